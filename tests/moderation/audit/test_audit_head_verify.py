"""Verifying against a chain head kept outside the database (`verify_audit_log --against PATH`,
`--expect-head SEQ:HASH`): the newest events cut off, or the chain rewritten up to the head, are
named even when the database's own record of its end went with them.

The tampering is done as someone with access to the database would: the append-only trigger
lifted inside the test's transaction (tests/moderation/audit_helpers.py), on SQLite and
PostgreSQL alike."""

import json

import pytest
from django.core.management import CommandError, call_command

from moderation.audit.chain import audit_seal
from moderation.audit.head import ChainHead, HeadError, head_read
from moderation.audit.models import AuditEvent, AuditVerification
from tests.moderation.audit.test_audit_chain import raw_update, record

pytestmark = pytest.mark.django_db


def keep_head(path, n=5) -> dict:
    """n events, sealed and verified, their head appended to `path`; returns the head."""
    record(n)
    call_command("verify_audit_log", "--record", "--head-file", str(path))
    return json.loads(path.read_text().splitlines()[-1])


def cut_newest(n: int) -> None:
    """Delete the n newest events, and the database's record of the chain's end with them."""
    top = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    raw_update("DELETE FROM moderation_auditevent WHERE seq > %s", [top - n])
    AuditVerification.objects.all().delete()


def verify_fails(*args, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_audit_log", *args)
    assert exit_.value.code == 1
    return capsys.readouterr().err


class TestAgainstAHeadFile:
    def test_it_passes_while_the_head_is_intact(self, tmp_path, capsys):
        heads = tmp_path / "heads.jsonl"
        keep_head(heads)
        call_command("verify_audit_log", "--against", str(heads))
        assert "OK: 5 events, chain intact" in capsys.readouterr().out
        # Events added since are fine: the head is still where it was.
        record(2)
        call_command("verify_audit_log", "--seal", "--against", str(heads))
        assert "OK: 7 events, chain intact" in capsys.readouterr().out

    def test_it_names_the_newest_events_cut_off(self, tmp_path, capsys):
        heads = tmp_path / "heads.jsonl"
        head = keep_head(heads)
        cut_newest(2)
        call_command("verify_audit_log")  # the chain alone cannot tell
        capsys.readouterr()
        err = verify_fails("--against", str(heads), capsys=capsys)
        assert (
            f"the chain ends at seq 3 but a head recorded at {head['at']} names seq 5 "
            f"(hash {head['hash'][:16]}...): 2 newest events are missing" in err
        )
        assert err.startswith("FAILED after 3 good events")

    def test_it_names_a_different_hash_at_the_heads_seq(self, tmp_path, capsys):
        heads = tmp_path / "heads.jsonl"
        head = keep_head(heads)
        cut_newest(2)
        record(3)
        audit_seal()  # the chain grows past the cut again: seq 4, 5, 6
        now = AuditEvent.objects.get(seq=5)
        err = verify_fails("--against", str(heads), capsys=capsys)
        assert (
            f"seq 5 has hash {now.hash[:16]}... but a head recorded at {head['at']} names hash "
            f"{head['hash'][:16]}...: the chain was rewritten at or before seq 5" in err
        )

    def test_it_checks_the_newest_head_in_the_file(self, tmp_path, capsys):
        heads = tmp_path / "heads.jsonl"
        keep_head(heads, 3)
        keep_head(heads, 2)
        cut_newest(1)
        err = verify_fails("--against", str(heads), capsys=capsys)
        assert "names seq 5" in err and "1 newest event is missing" in err

    def test_a_recorded_run_stores_the_cut_for_the_audit_page(self, tmp_path, capsys):
        heads = tmp_path / "heads.jsonl"
        keep_head(heads)
        cut_newest(2)
        err = verify_fails(
            "--record", "--against", str(heads), "--head-file", str(heads), capsys=capsys
        )
        assert "2 newest events are missing" in err
        run = AuditVerification.objects.get()
        assert run.ok is False and run.first_bad_seq == 4 and "names seq 5" in run.message
        # A failed check extends nothing.
        assert len(heads.read_text().splitlines()) == 1


class TestExpectHead:
    def test_it_passes_and_names_the_cut(self, capsys):
        record(4)
        call_command("verify_audit_log", "--seal")
        digest = AuditEvent.objects.get(seq=4).hash
        call_command("verify_audit_log", "--expect-head", f"4:{digest.upper()}")
        assert "OK: 4 events" in capsys.readouterr().out
        cut_newest(1)
        err = verify_fails("--expect-head", f"4:{digest}", capsys=capsys)
        assert "the chain ends at seq 3 but the expected head names seq 4" in err
        assert "1 newest event is missing" in err

    def test_it_names_a_different_hash(self, capsys):
        record(2)
        call_command("verify_audit_log", "--seal")
        err = verify_fails("--expect-head", f"2:{'ab' * 32}", capsys=capsys)
        assert "but the expected head names hash abababababababab..." in err
        assert "rewritten at or before seq 2" in err


class TestUnreadableHeads:
    """A head that cannot be read is no verdict on the chain: exit 2, as for a check that could
    not complete."""

    @pytest.mark.parametrize(
        ("content", "error"),
        [
            (None, "cannot read"),
            ("", "no chain head recorded"),
            ('{"seq": 3, "hash": "abc"}\n', "line 1: hash must be 64 hexadecimal digits"),
            ('\n{"seq": -1, "hash": "' + "a" * 64 + '"}\n', "line 2: seq must not be negative"),
            ("OK: 3 events\n", "line 1: neither a JSON object nor a HEAD line"),
        ],
    )
    def test_a_bad_head_file_exits_2(self, tmp_path, content, error):
        heads = tmp_path / "heads.jsonl"
        if content is not None:
            heads.write_text(content)
        with pytest.raises(CommandError) as exc:
            call_command("verify_audit_log", "--against", str(heads))
        assert exc.value.returncode == 2 and error in str(exc.value)

    def test_a_bad_expected_head_exits_2(self):
        with pytest.raises(CommandError) as exc:
            call_command("verify_audit_log", "--expect-head", "5")
        assert exc.value.returncode == 2 and "expected SEQ:HASH" in str(exc.value)


class TestReadingHeads:
    def test_it_reads_json_and_printed_lines_and_takes_the_highest_seq(self, tmp_path):
        digest = "c" * 64
        heads = tmp_path / "heads.txt"
        heads.write_text(
            "# kept on the audit host\n"
            f'{{"seq": 7, "hash": "{"a" * 64}", "events": 7, "at": "2026-12-05T10:00:00Z"}}\n'
            f"HEAD seq=9 hash={digest} events=9 at=2026-12-06T10:00:00Z\n"
            f'{{"seq": 8, "hash": "{"b" * 64}"}}\n'
        )
        head = head_read(path=heads)
        assert (head.seq, head.hash, head.events) == (9, digest, 9)
        assert head.describe() == "a head recorded at 2026-12-06T10:00:00Z"

    def test_a_printed_head_reads_back_as_itself(self, tmp_path):
        from datetime import UTC, datetime

        head = ChainHead(seq=3, hash="d" * 64, events=3, at=datetime(2026, 12, 5, 10, tzinfo=UTC))
        heads = tmp_path / "heads.txt"
        heads.write_text(head.line() + "\n" + head.json_line() + "\n")
        assert head_read(path=heads) == head

    def test_a_head_without_a_time_zone_is_refused(self, tmp_path):
        heads = tmp_path / "heads.jsonl"
        heads.write_text(f'{{"seq": 1, "hash": "{"a" * 64}", "at": "2026-12-05T10:00:00"}}\n')
        with pytest.raises(HeadError, match="time zone"):
            head_read(path=heads)
