"""The audit hash chain: canonical form, sealing, verification (any database)."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import hypothesis
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from hypothesis import strategies as st

from moderation.audit import chain as audit_chain
from moderation.audit.chain import (
    GENESIS,
    audit_seal,
    canonical_event,
    canonical_json,
    canonical_json_text,
    canonical_number,
)
from moderation.audit.chain_verify import audit_verify
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
from tests.moderation.audit_helpers import audit_guard_off

pytestmark = pytest.mark.django_db


def record(n=1, **kw):
    from accounts.models import User

    user = User.objects.get_or_create(username="chain-actor")[0]
    return [
        audit_record(verb=kw.get("verb", "test.event"), obj=user, actor=user, after={"n": i})
        for i in range(n)
    ]


def raw_update(sql, params):
    """A change made behind the application's back (on PostgreSQL with the guard lifted)."""
    with audit_guard_off(), connection.cursor() as cursor:
        cursor.execute(sql, params)


class TestCanonicalForm:
    @pytest.mark.parametrize(
        ("number", "text"),
        [
            (0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (1e20, "100000000000000000000"),
            (10**20, "100000000000000000000"),
            (1e21, "1e+21"),
            (123.456, "123.456"),
            (0.000001, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (-2.5, "-2.5"),
            (2**53, "9007199254740992"),
            (2**53 + 1, "9007199254740992"),
            (0.1 + 0.2, "0.30000000000000004"),
        ],
    )
    def test_it_writes_numbers_as_rfc8785_does(self, number, text):
        assert canonical_number(number) == text

    @hypothesis.settings(max_examples=2000, database=None, deadline=None)
    @hypothesis.given(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.floats(min_value=1e-4, max_value=1e16)
        | st.integers(-(2**60), 2**60).map(float)
    )
    def test_the_shortcut_for_common_numbers_spells_them_as_the_general_rule(self, number):
        if number != 0:
            assert canonical_number(number) == audit_chain._es_number(number)

    @pytest.mark.parametrize(
        "text",
        [
            '{"b": 1, "a": [1, 2.50, "x"], "c": {"z": null, "y": true}}',
            '{"score": 1e20, "small": 1.5e-07, "big": 12345678901234567890}',
            '{"é": "ünïcode", "\\ud83d\\ude00": 1, "\\uffff": 2, "ctl": "a\\u0001\\n\\"b"}',
            "[]",
            '"just a string"',
        ],
    )
    def test_it_gives_the_same_bytes_on_the_fast_and_the_general_path(self, text):
        assert canonical_json_text(text) == canonical_json(json.loads(text))

    def test_it_sorts_keys_by_utf16_code_units(self):
        # U+1F600 is D83D DE00 in UTF-16: before U+FFFF, though after it by code point.
        assert canonical_json({"\uffff": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\uffff":1}'

    def test_it_does_not_depend_on_how_the_database_spells_json(self):
        # jsonb gives back 1e20 as 100000000000000000000 and its own key order and spacing.
        assert canonical_json_text('{"b":1.0,"a":1e20}') == canonical_json_text(
            '{"a": 100000000000000000000, "b": 1.0}'
        )
        assert canonical_json_text('{"a":1e20}') == '{"a":100000000000000000000}'

    def test_it_is_stable(self):
        """The published form: any change here breaks every chain already sealed."""
        at = datetime(2026, 11, 22, 4, 5, 6, 7, tzinfo=UTC)
        row = (42, 7, "rita", "case.decided", "moderation.case", "9", 9, None, '{"x": 1}', None, at)
        data = canonical_event(row, seq=3, prev_hash=GENESIS)
        assert data == (
            b'{"actor_id":7,"actor_label":"rita","after":{"x":1},"before":null,"case_id":9,'
            b'"created_at":"2026-11-22T04:05:06.000007Z","id":42,"ip":null,'
            b'"object_id":"9","object_type":"moderation.case","prev_hash":"'
            + GENESIS.encode()
            + b'","seq":3,"verb":"case.decided"}'
        )
        obj = json.loads(data)
        assert data == canonical_json(obj).encode()
        assert audit_chain.event_hash(row, seq=3, prev_hash=GENESIS) == (
            hashlib.sha256(data).hexdigest()
        )

    def test_it_writes_times_in_utc(self):
        from zoneinfo import ZoneInfo

        at = datetime(2026, 1, 1, 1, 0, tzinfo=ZoneInfo("Europe/Berlin"))
        assert audit_chain.canonical_time(at) == "2026-01-01T00:00:00.000000Z"

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL writes the time")
    @pytest.mark.parametrize(
        "at",
        [
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 11, 22, 4, 5, 6, 7, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2030, 6, 30, 12, 0, 0, 100000, tzinfo=UTC),
        ],
    )
    def test_postgresql_writes_the_time_as_canonical_time_does(self, at):
        # Chains sealed from Python's datetimes must verify from PostgreSQL's text, and back.
        from zoneinfo import ZoneInfo

        sql = "SELECT " + audit_chain.CANONICAL_TIME_SQL % {"expressions": "%s::timestamptz"}
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL TIME ZONE 'America/St_Johns'")  # the session's own zone
            for value in (at, at.astimezone(ZoneInfo("Asia/Kolkata"))):
                cursor.execute(sql, [value])
                assert cursor.fetchone()[0] == audit_chain.canonical_time(at)

    def test_a_time_the_database_wrote_is_taken_as_it_is(self):
        assert audit_chain.canonical_time("2026-01-01T00:00:00.000000Z") == (
            "2026-01-01T00:00:00.000000Z"
        )


class TestSealing:
    def test_it_records_events_unsealed_and_seals_them_in_id_order(self):
        events = record(3)
        assert not AuditEvent.objects.filter(seq__isnull=False).exists()
        assert audit_seal() == 3
        sealed = list(
            AuditEvent.objects.order_by("seq").values_list("id", "seq", "prev_hash", "hash")
        )
        assert [s[0] for s in sealed] == [e.pk for e in events]
        assert [s[1] for s in sealed] == [1, 2, 3]
        assert sealed[0][2] == GENESIS
        assert sealed[1][2] == sealed[0][3] and sealed[2][2] == sealed[1][3]
        assert audit_seal() == 0

    def test_it_appends_later_events_to_the_chain(self):
        record(2)
        audit_seal()
        last = AuditEvent.objects.get(seq=2)
        (new,) = record(1)
        audit_seal(batch=1)
        new.refresh_from_db()
        assert (new.seq, new.prev_hash) == (3, last.hash)

    def test_it_seals_in_batches(self):
        record(5)
        assert audit_seal(batch=2, max_batches=2) == 4
        assert AuditEvent.objects.filter(seq__isnull=True).count() == 1
        assert audit_seal(batch=2) == 1

    def test_it_seals_after_the_writing_transaction_commits(
        self, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            record(3)
        # One sealing per transaction, however many events it wrote.
        assert len(callbacks) == 1
        assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == [1, 2, 3]

    def test_a_process_seals_after_commit_at_most_once_per_interval(self, settings, monkeypatch):
        settings.AUDIT_SEAL_INTERVAL_MS = 250
        clock = [1000.0]
        monkeypatch.setattr(audit_chain.time, "monotonic", lambda: clock[0])
        monkeypatch.setattr(audit_chain, "_last_seal_after_commit", [float("-inf")])

        def commit_one_at(moment):
            clock[0] = moment
            record(1)
            audit_chain._seal_after_commit()  # what each commit runs (the test never commits)
            return AuditEvent.objects.filter(seq__isnull=True).count()

        assert commit_one_at(1000.0) == 0  # sealed at once
        assert commit_one_at(1000.1) == 1  # sealed moments ago: this one waits
        assert commit_one_at(1000.2) == 2
        assert commit_one_at(1000.3) == 0  # the interval is over: all three sealed together
        assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [
            1,
            2,
            3,
            4,
        ]
        assert audit_verify().ok

    def test_it_hashes_what_the_database_gives_back(self):
        from accounts.models import User

        user = User.objects.create(username="floaty")
        audit_record(verb="x", obj=user, after={"score": 1e20, "f": 0.5, "s": "é\n"}, ip="::1")
        audit_seal()
        assert audit_verify().ok


class TestVerify:
    def test_it_passes_an_intact_chain(self):
        record(7)
        audit_seal()
        result = audit_verify(batch=3)
        assert result.ok and result.checked == 7 and result.last_seq == 7

    def test_it_names_a_changed_row(self):
        events = record(5)
        audit_seal()
        raw_update(
            "UPDATE moderation_auditevent SET actor_label = %s WHERE id = %s",
            ["someone else", events[2].pk],
        )
        result = audit_verify(batch=2)
        assert not result.ok
        assert (result.bad_id, result.bad_seq) == (events[2].pk, 3)
        assert "content hash mismatch" in result.message and f"id {events[2].pk}" in result.message

    def test_it_names_a_row_whose_hash_was_recomputed_by_its_successor(self):
        events = record(4)
        audit_seal()
        raw_update(
            "UPDATE moderation_auditevent SET hash = %s WHERE id = %s", ["f" * 64, events[1].pk]
        )
        result = audit_verify()
        # The forged hash does not match seq 2's content: that event is named first.
        assert result.bad_id == events[1].pk and "content hash mismatch" in result.message

    def test_it_names_the_gap_a_deleted_row_leaves(self):
        events = record(5)
        audit_seal()
        raw_update("DELETE FROM moderation_auditevent WHERE id = %s", [events[1].pk])
        result = audit_verify()
        assert not result.ok
        assert result.bad_id == events[2].pk and result.bad_seq == 3
        assert "gap in seq" in result.message and "seq 2..2 missing" in result.message

    def test_it_notices_events_cut_off_the_end(self):
        events = record(3)
        audit_seal()
        anchor = (3, AuditEvent.objects.get(seq=3).hash)
        raw_update("DELETE FROM moderation_auditevent WHERE id = %s", [events[2].pk])
        assert audit_verify().ok  # the chain alone cannot tell
        result = audit_verify(anchor=anchor)
        assert not result.ok and "1 newest event is missing" in result.message

    def test_it_fails_on_an_event_left_unsealed_too_long(self):
        (event,) = record(1)
        assert audit_verify().ok
        later = timezone.now() + timedelta(hours=1)
        result = audit_verify(now=later)
        assert not result.ok and result.bad_id == event.pk and "not sealed" in result.message


class TestCommand:
    def test_it_exits_0_on_an_intact_chain(self, capsys):
        record(3)
        audit_seal()
        call_command("verify_audit_log")
        assert "OK: 3 events, chain intact" in capsys.readouterr().out

    def test_it_exits_1_naming_the_first_bad_event(self, capsys):
        events = record(3)
        audit_seal()
        raw_update(
            "UPDATE moderation_auditevent SET verb = %s WHERE id = %s", ["forged", events[0].pk]
        )
        with pytest.raises(SystemExit) as exit_:
            call_command("verify_audit_log", "--batch-size", "1")
        assert exit_.value.code == 1
        err = capsys.readouterr().err
        assert f"event id {events[0].pk} (seq 1)" in err and "content hash mismatch" in err

    def test_it_seals_first_when_asked(self, capsys):
        record(2)
        call_command("verify_audit_log", "--seal")
        assert "2 events" in capsys.readouterr().out
