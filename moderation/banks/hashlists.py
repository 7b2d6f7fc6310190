"""Hash lists as files: python-threatexchange's dataset CSV (`signal_type,signal_str,labels...`)
and its `<type> <hash>` lines, read for import and written for export.

A vPDQ signal is a JSON list of `"pdq,quality,timestamp"` strings (reports/vpdq.py): in CSV it is
one quoted field; in the line format it is the rest of the line. A vPDQ entry is stored with the
SHA-256 of its signal string, normalised, as its value (so a bank lists a video once) and its
frames as BankEntryFrame rows.
"""

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from moderation.banks.index import MalformedHash, parse_hex
from reports.vpdq import FrameHash, MalformedVpdq, from_signal, to_signal

# python-threatexchange's names for the signals we hold.
SIGNAL_ALIASES = {
    "pdq": "pdq",
    "phash": "phash",
    "dhash": "dhash",
    "md5": "md5",
    "photo_md5": "md5",
    "video_md5": "video_md5",
    "sha256": "sha256",
    "video_sha256": "video_sha256",
    "vpdq": "vpdq",
}
# A bank of file digests takes lists that call them video digests (as it did before videos had
# their own signal types): the same bytes are the same file.
DIGEST_OF = {"video_md5": "md5", "video_sha256": "sha256"}
# Frames a vPDQ signal may list (a three-hour video hashed at every frame of 60 fps).
MAX_VPDQ_FRAMES = 3 * 3600 * 60


class ImportFailed(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ParsedEntry:
    line: int
    signal_type: str
    value: str
    labels: tuple[str, ...]
    # A vPDQ entry's frames (empty for every other signal type).
    frames: tuple[FrameHash, ...] = ()


def vpdq_value(frames: list[FrameHash]) -> str:
    """The value a vPDQ entry is listed under: the SHA-256 of its normalised signal string."""
    return hashlib.sha256(to_signal(frames).encode()).hexdigest()


def _fields(line: str) -> list[str]:
    """The line's fields, in whichever format it is written: CSV when the signal type ends at a
    comma, else `<type> <hash> [labels...]` (where a vPDQ signal takes the rest of the line)."""
    kind = re.match(r"[^\s,]*", line).group()
    if line[len(kind) : len(kind) + 1] == ",":
        return next(csv.reader([line]))
    rest = line[len(kind) :].strip()
    if kind.lower() == "vpdq":
        return [kind, rest] if rest else [kind]
    return [kind, *rest.split()]


def parse_line(number: int, raw: str, allowed: set[str]) -> ParsedEntry | str | None:
    """One line: its entry, what is wrong with it, or None (blank, a comment, the CSV header)."""
    line = raw.strip()
    if not line or line.startswith("#"):
        return None
    fields = _fields(line)
    if [f.strip().lower() for f in fields[:2]] == ["signal_type", "signal_str"]:
        return None
    if len(fields) < 2:
        return f"line {number}: expected a signal type and a hash, got {line[:80]!r}"
    kind = SIGNAL_ALIASES.get(fields[0].strip().lower())
    if kind is None:
        return f"line {number}: unknown signal type {fields[0].strip()[:40]!r}"
    if kind not in allowed and DIGEST_OF.get(kind) not in allowed:
        return f"line {number}: this bank does not hold {kind} hashes"
    labels = tuple(f.strip() for f in fields[2:] if f.strip())
    if kind == "vpdq":
        try:
            frames = from_signal(fields[1])
        except MalformedVpdq as e:
            return f"line {number}: {e}"
        if len(frames) > MAX_VPDQ_FRAMES:
            return f"line {number}: a vPDQ signal of {len(frames):,} frames is too long"
        return ParsedEntry(number, kind, vpdq_value(frames), labels, tuple(frames))
    try:
        value = parse_hex(kind, fields[1])
    except MalformedHash as e:
        return f"line {number}: {e}"
    return ParsedEntry(number, kind, value, labels)


def parse_hash_list(text: str, *, allowed: Iterable[str]) -> list[ParsedEntry]:
    """Parse a whole list. Raises ImportFailed listing every bad line by number; blank lines and
    `#` comments are skipped, as is a CSV header."""
    allowed = set(allowed)
    entries, errors = [], []
    for number, raw in enumerate(io.StringIO(text), start=1):
        parsed = parse_line(number, raw, allowed)
        if isinstance(parsed, str):
            errors.append(parsed)
        elif parsed is not None:
            entries.append(parsed)
    if errors:
        raise ImportFailed(errors)
    return entries


def render(rows: Iterable[tuple[str, str, list]], *, fmt: str) -> Iterable[str]:
    """(signal type, signal string, labels) as CSV with a header, or as `<type> <hash>` lines."""
    if fmt == "lines":
        for signal_type, signal, _labels in rows:
            yield f"{signal_type} {signal}\n"
        return
    out = io.StringIO()
    writer = csv.writer(out)
    # Labels follow as further columns, one each, which is how the import reads them back.
    writer.writerow(["signal_type", "signal_str", "labels"])
    yield out.getvalue()
    for signal_type, signal, labels in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([signal_type, signal, *(labels or [])])
        yield out.getvalue()
