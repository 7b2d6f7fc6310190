"""The chain head kept outside the database, so cutting off the newest events is noticed.

The hash chain shows any change to a sealed event and any gap, but not events removed from its
end together with the record of what the end was: someone who can delete from the database can
delete both. So after a good verification `verify_audit_log --record` prints the head (the last
sealed seq, its hash, the events checked, when) and `--head-file PATH` appends it to a file kept
elsewhere; `--against PATH` later checks that the newest head there is still in the chain with the
same hash (moderation/audit/chain_verify.py: check_head). Each event's hash covers the hash
before it, so the head's hash vouches for every event up to it.

File format: one JSON object per line, {"seq": 131, "hash": "<64 hex>", "events": 131,
"at": "2026-12-05T10:00:00Z"}; `--against` reads the line with the highest seq. A line as the
command prints it (`HEAD seq=131 hash=... events=131 at=...`) is read too, and blank lines and
lines starting with # are skipped.

Only the standard library here: verifying worker processes import chain_verify, and with it this
module, before they set Django up.
"""

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_HASH = re.compile(r"[0-9a-f]{64}")
_FIELDS = ("seq", "hash", "events", "at")


class HeadError(ValueError):
    """A recorded head that cannot be read: the check cannot be made."""


@dataclass(frozen=True, kw_only=True)
class ChainHead:
    seq: int
    hash: str
    events: int | None = None
    at: datetime | None = None

    def describe(self) -> str:
        """How messages name this head: "a head recorded at 2026-12-05T10:00:00Z"."""
        return f"a head recorded at {_stamp(self.at)}" if self.at else "the expected head"

    def line(self) -> str:
        """The one line the command prints (stable: scripts may read it)."""
        fields = {"seq": self.seq, "hash": self.hash, "events": self.events, "at": _stamp(self.at)}
        return "HEAD " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)

    def json_line(self) -> str:
        fields = {"seq": self.seq, "hash": self.hash, "events": self.events, "at": _stamp(self.at)}
        return json.dumps({k: v for k, v in fields.items() if v is not None})


def _stamp(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def head_from_fields(fields: dict) -> ChainHead:
    """A head from its fields as recorded (JSON values or the printed line's text)."""
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise HeadError(f"unknown field {sorted(unknown)[0]!r}")
    seq, digest = fields.get("seq"), fields.get("hash")
    events, at = fields.get("events"), fields.get("at")
    try:
        seq = _count(seq, "seq")
        events = None if events is None else _count(events, "events")
        at = None if at is None else datetime.fromisoformat(str(at))
    except ValueError as exc:
        raise HeadError(str(exc)) from exc
    if not isinstance(digest, str) or not _HASH.fullmatch(digest.lower()):
        raise HeadError("hash must be 64 hexadecimal digits")
    if at is not None and at.tzinfo is None:
        raise HeadError("at must give its time zone, as in 2026-12-05T10:00:00Z")
    return ChainHead(seq=seq, hash=digest.lower(), events=events, at=at)


def _count(value, name: str) -> int:
    try:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


def head_parse_expected(*, text: str) -> ChainHead:
    """`--expect-head SEQ:HASH`."""
    seq, sep, digest = text.strip().partition(":")
    if not sep:
        raise HeadError(f"expected SEQ:HASH, got {text!r}")
    return head_from_fields({"seq": seq, "hash": digest})


def _parse_line(line: str) -> ChainHead | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if line.startswith("{"):
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HeadError(f"not JSON: {exc}") from exc
        if not isinstance(fields, dict):
            raise HeadError("not a JSON object")
        return head_from_fields(fields)
    if line.startswith("HEAD "):
        pairs = [part.partition("=") for part in line.split()[1:]]
        if any(not sep for _, sep, _ in pairs):
            raise HeadError("expected key=value pairs after HEAD")
        return head_from_fields({key: value for key, _, value in pairs})
    raise HeadError("neither a JSON object nor a HEAD line")


def head_read(*, path: Path | str) -> ChainHead:
    """The newest head recorded in `path`: the one with the highest seq (the last such line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HeadError(f"cannot read {path}: {exc}") from exc
    newest = None
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            head = _parse_line(line)
        except HeadError as exc:
            raise HeadError(f"{path}, line {number}: {exc}") from exc
        if head is not None and (newest is None or head.seq >= newest.seq):
            newest = head
    if newest is None:
        raise HeadError(f"no chain head recorded in {path}")
    return newest


def head_append(*, path: Path | str, head: ChainHead) -> None:
    """Append the head as one JSON line, flushed to disk: the file is the record that outlives a
    tampered database."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(head.json_line() + "\n")
        out.flush()
        os.fsync(out.fileno())
