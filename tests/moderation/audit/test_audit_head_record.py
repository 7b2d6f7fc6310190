"""Recording the chain head outside the database: `verify_audit_log --record` prints it after a
good verification, `--head-file PATH` appends it to a file (moderation/audit/head.py)."""

import json
import re

import pytest
from django.core.management import call_command

from moderation.audit.models import AuditEvent
from tests.moderation.audit.test_audit_chain import raw_update, record

pytestmark = pytest.mark.django_db

HEAD_LINE = re.compile(
    r"^HEAD seq=(\d+) hash=([0-9a-f]{64}) events=(\d+) at=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$"
)


def head_lines(out: str) -> list[re.Match]:
    return [m for m in map(HEAD_LINE.match, out.splitlines()) if m]


def test_it_prints_the_head_after_a_good_recorded_run(capsys):
    record(3)
    call_command("verify_audit_log", "--record")
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("OK: 3 events, chain intact")
    (head,) = head_lines(out)
    assert head.group(1, 2, 3) == ("3", AuditEvent.objects.get(seq=3).hash, "3")


def test_it_prints_no_head_without_being_asked(capsys):
    record(2)
    call_command("verify_audit_log", "--seal")
    assert "HEAD" not in capsys.readouterr().out


def test_it_appends_the_head_to_a_head_file(tmp_path, capsys):
    heads = tmp_path / "heads.jsonl"
    record(2)
    call_command("verify_audit_log", "--record", "--head-file", str(heads))
    record(3)
    # Without --record too: a read-only check can keep the head as well.
    call_command("verify_audit_log", "--seal", "--head-file", str(heads))
    first, second = (json.loads(line) for line in heads.read_text().splitlines())
    assert (first["seq"], first["events"], first["hash"]) == (
        2,
        2,
        AuditEvent.objects.get(seq=2).hash,
    )
    assert (second["seq"], second["hash"]) == (5, AuditEvent.objects.get(seq=5).hash)
    assert set(second) == {"seq", "hash", "events", "at"}
    # The file holds what the command printed.
    printed = head_lines(capsys.readouterr().out)
    assert [m.group(1, 2, 4) for m in printed] == [
        (str(h["seq"]), h["hash"], h["at"]) for h in (first, second)
    ]


def test_it_records_no_head_when_the_chain_is_bad(tmp_path, capsys):
    heads = tmp_path / "heads.jsonl"
    events = record(3)
    call_command("verify_audit_log", "--seal")
    raw_update("UPDATE moderation_auditevent SET verb = %s WHERE id = %s", ["forged", events[1].pk])
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_audit_log", "--record", "--head-file", str(heads))
    assert exit_.value.code == 1
    assert not heads.exists() and not head_lines(capsys.readouterr().out)
