"""Verifying the audit chain in worker processes gives the verdict one process gives: the same
first bad event, the same count of good events before it, wherever spans are cut.

Workers read through their own connections, so these tests commit (transactional database) and
run on PostgreSQL only: elsewhere, or inside a transaction, verification stays in-process."""

import dataclasses
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from moderation.audit.chain import audit_seal
from moderation.audit.chain_verify import Span, _bounds, _join, audit_verify, check_span
from moderation.audit.models import AuditEvent, AuditVerification
from moderation.audit.verification import audit_verification_run
from tests.moderation.audit.test_audit_chain import raw_update, record
from tests.rqworker import ROOT

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="worker processes verify on PostgreSQL only"
)

EVENTS = 20
SPAN = 3  # spans [..3], [4..6], [7..9], ...: tampering at a span's first, middle and last event


def both(**kwargs):
    """(in-process result, worker result with the workers field levelled) for comparison."""
    alone = audit_verify(batch=2, workers=1, **kwargs)
    parallel = audit_verify(batch=2, workers=2, span=SPAN, **kwargs)
    assert parallel.workers == 2 and alone.workers == 1
    return alone, dataclasses.replace(parallel, workers=1)


def chain(n=EVENTS):
    events = record(n)
    audit_seal()
    return events


def set_column(column, value, event):
    # The column name is one of this file's literals.
    raw_update(f"UPDATE moderation_auditevent SET {column} = %s WHERE id = %s", [value, event.pk])  # noqa: S608


@postgres_only
@pytest.mark.django_db(transaction=True)
class TestWorkers:
    def test_it_passes_an_intact_chain(self):
        chain()
        alone, parallel = both()
        assert alone.ok and alone == parallel
        assert parallel.checked == EVENTS and parallel.last_seq == EVENTS
        assert parallel.last_hash == AuditEvent.objects.get(seq=EVENTS).hash

    @pytest.mark.parametrize("index", [0, 3, 4, 5, 19])
    def test_it_names_a_changed_row_wherever_it_falls(self, index):
        events = chain()
        set_column("actor_label", "someone else", events[index])
        alone, parallel = both()
        assert not alone.ok and alone == parallel
        assert (parallel.bad_id, parallel.bad_seq, parallel.checked) == (
            events[index].pk,
            index + 1,
            index,
        )
        assert "content hash mismatch" in parallel.message

    @pytest.mark.parametrize("index", [2, 3, 4, 19])
    def test_it_names_the_gap_a_deleted_row_leaves(self, index):
        events = chain()
        raw_update("DELETE FROM moderation_auditevent WHERE id = %s", [events[index].pk])
        alone, parallel = both()
        assert alone == parallel
        if index == EVENTS - 1:  # the last event: only an anchor notices (tested elsewhere)
            assert parallel.ok and parallel.checked == EVENTS - 1
            return
        assert not parallel.ok and parallel.bad_id == events[index + 1].pk
        assert f"seq {index + 1}..{index + 1} missing" in parallel.message

    @pytest.mark.parametrize("index", [3, 4, 6])
    def test_it_names_a_broken_link(self, index):
        events = chain()
        set_column("prev_hash", "e" * 64, events[index])
        alone, parallel = both()
        assert not alone.ok and alone == parallel
        assert parallel.bad_id == events[index].pk and "broken link" in parallel.message

    def test_it_names_the_first_of_two_bad_events_in_different_spans(self):
        events = chain()
        set_column("verb", "forged", events[16])
        set_column("verb", "forged", events[7])
        alone, parallel = both()
        assert alone == parallel and (parallel.bad_seq, parallel.checked) == (8, 7)

    def test_it_stays_in_process_inside_a_transaction(self):
        chain(3)
        with transaction.atomic():
            record(1)  # uncommitted: other connections cannot see it
            audit_seal()
            result = audit_verify(workers=2, span=1)
        assert result.ok and result.workers == 1 and result.checked == 4

    def test_the_command_verifies_in_workers(self, capsys):
        events = chain(6)
        call_command("verify_audit_log", "--workers", "2")
        assert "OK: 6 events, chain intact (2 processes," in capsys.readouterr().out
        set_column("verb", "forged", events[4])
        with pytest.raises(SystemExit):
            call_command("verify_audit_log", "--workers", "2", "--batch-size", "2")
        assert f"event id {events[4].pk} (seq 5)" in capsys.readouterr().err


class TestSpans:
    """Cutting and joining spans, without a database."""

    def test_bounds_cover_the_chain_open_at_both_ends(self):
        assert _bounds(10, 3) == [(None, 4), (5, 8), (9, None)]
        assert _bounds(2, 8) == [(None, 1), (2, None)]
        assert _bounds(1, 4) == [(None, None)]

    def test_an_empty_span_is_skipped_when_joining(self):
        first = Span((1, 10, "0" * 64), 3, "c" * 64, 3)
        empty = Span(None, 0, "0" * 64, 0)
        after = Span((4, 13, "c" * 64), 5, "d" * 64, 2)
        result = _join([first, empty, after], 2)
        assert result.ok and (result.checked, result.last_seq, result.last_hash) == (5, 5, "d" * 64)

    def test_a_span_starting_past_a_missing_event_is_a_gap(self):
        first = Span((1, 10, "0" * 64), 3, "c" * 64, 3)
        after = Span((5, 14, "c" * 64), 6, "d" * 64, 2)
        result = _join([first, after], 2)
        assert (result.ok, result.bad_id, result.checked, result.last_seq) == (False, 14, 3, 3)
        assert "seq 4..4 missing" in result.message

    def test_check_span_of_no_rows_is_empty(self):
        assert check_span([]).first is None


@postgres_only
@pytest.mark.django_db(transaction=True)
class TestBrokenWorkers:
    """A worker that cannot start (here: its settings module is missing) ends the check with an
    error, never a hang or a verdict."""

    @pytest.fixture(autouse=True)
    def workers_cannot_start(self, monkeypatch):
        chain(4)
        # Spawned workers read the environment; this process's Django is already set up.
        monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.no_such_settings")

    def test_the_command_exits_2_with_the_error(self):
        with pytest.raises(CommandError) as error:
            call_command("verify_audit_log", "--workers", "2")
        assert error.value.returncode == 2
        assert "could not complete: BrokenProcessPool" in str(error.value)

    def test_a_recorded_run_says_it_could_not_complete(self, client, supervisor):
        with pytest.raises(BrokenProcessPool):
            audit_verification_run(workers=2)
        run = AuditVerification.objects.get()
        assert run.ok is None and run.finished_at is not None
        assert run.message.startswith("the check could not complete: BrokenProcessPool")
        client.force_login(supervisor)
        page = client.get("/audit/").content.decode()
        assert "Hash chain verification could not complete" in page and "running since" not in page


class TestOrphanedWorkers:
    """A worker whose verifying process was killed outright leaves on its own."""

    def run(self, parent: str) -> subprocess.CompletedProcess:
        code = (
            "import os, time\n"
            "from moderation.audit.chain_verify import exit_when_orphaned\n"
            f"exit_when_orphaned({parent}, interval=0.05)\n"
            "time.sleep(1.5)\n"
        )
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=30)

    def test_it_exits_once_its_parent_is_gone(self):
        started = time.monotonic()
        assert self.run("1").returncode == 1  # pid 1 is not its parent: as if orphaned
        assert time.monotonic() - started < 1.5

    def test_it_carries_on_while_its_parent_lives(self):
        assert self.run("os.getppid()").returncode == 0
