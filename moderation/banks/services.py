"""Writes on hash banks: importing, adding and removing entries. Every change bumps BankVersion
so the in-memory indexes of every process rebuild within seconds."""

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from moderation.audit.services import audit_record
from moderation.banks.index import MalformedHash, parse_hex
from moderation.banks.jobs import rematch_media, take_index_snapshot
from moderation.banks.models import PERCEPTUAL, BankEntry, BankVersion, HashBank
from moderation.banks.snapshot import bank_write_gate
from moderation.outbox.services import enqueue

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
}
# A bank of file digests takes lists that call them video digests (as it did before videos had
# their own signal types): the same bytes are the same file.
DIGEST_OF = {"video_md5": "md5", "video_sha256": "sha256"}
BATCH = 5000
# Lines handed to the database at a time, and bad lines named at most, in an import.
CHUNK = 50_000
MAX_ERRORS_LISTED = 1000


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


def _parse_line(number: int, raw: str, allowed: set[str]) -> ParsedEntry | str | None:
    """One line: its entry, what is wrong with it, or None (blank, a comment, the CSV header)."""
    line = raw.strip()
    if not line or line.startswith("#"):
        return None
    fields = next(csv.reader([line])) if "," in line else line.split()
    if [f.strip().lower() for f in fields[:2]] == ["signal_type", "signal_str"]:
        return None
    if len(fields) < 2:
        return f"line {number}: expected a signal type and a hash, got {line[:80]!r}"
    kind = SIGNAL_ALIASES.get(fields[0].strip().lower())
    if kind is None:
        return f"line {number}: unknown signal type {fields[0].strip()[:40]!r}"
    if kind not in allowed and DIGEST_OF.get(kind) not in allowed:
        return f"line {number}: this bank does not hold {kind} hashes"
    try:
        value = parse_hex(kind, fields[1])
    except MalformedHash as e:
        return f"line {number}: {e}"
    return ParsedEntry(number, kind, value, tuple(f.strip() for f in fields[2:] if f.strip()))


def parse_hash_list(text: str, *, allowed: Iterable[str]) -> list[ParsedEntry]:
    """Parse python-threatexchange's CSV (`signal_type,signal_str,...`) or its `<type> <hash>`
    lines. Raises ImportFailed listing every bad line by number; blank lines and `#` comments are
    skipped, as is a CSV header."""
    allowed = set(allowed)
    entries, errors = [], []
    for number, raw in enumerate(io.StringIO(text), start=1):
        parsed = _parse_line(number, raw, allowed)
        if isinstance(parsed, str):
            errors.append(parsed)
        elif parsed is not None:
            entries.append(parsed)
    if errors:
        raise ImportFailed(errors)
    return entries


class _BulkSink:
    """Writes entries with batched INSERTs, skipping hashes the bank already lists (SQLite)."""

    def __init__(self, bank: HashBank, user, now):
        self.bank, self.user, self.now = bank, user, now
        self.live = BankEntry.objects.filter(bank=bank, removed_at__isnull=True)
        self.before = self.live.count()

    def write(self, chunk: list[ParsedEntry]) -> None:
        BankEntry.objects.bulk_create(
            [
                BankEntry(
                    bank=self.bank,
                    signal_type=e.signal_type,
                    value=e.value,
                    labels=list(e.labels),
                    added_by=self.user,
                    added_at=self.now,
                )
                for e in chunk
            ],
            batch_size=BATCH,
            # The partial unique index on live entries: a hash listed already (or twice in the
            # file) is skipped, and counted as present.
            ignore_conflicts=True,
        )

    def finish(self) -> int:
        """How many entries were added."""
        return self.live.count() - self.before


class _CopySink:
    """PostgreSQL: COPY the entries into a temporary table as they are read, then one INSERT ...
    SELECT that skips what the bank already lists. Ten million lines in minutes, not hours."""

    def __init__(self, bank: HashBank, user, now):
        self.bank, self.user, self.now = bank, user, now
        # A name of its own: an import inside a test's (or any caller's) longer transaction must
        # not meet another's table, which only goes at the outer commit.
        self.table = f"vigil_import_{uuid.uuid4().hex}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.table} "
                "(signal_type text, value text, labels jsonb) ON COMMIT DROP"
            )

    def write(self, chunk: list[ParsedEntry]) -> None:
        if not chunk:
            return
        buffer = io.StringIO()
        out = csv.writer(buffer)
        for e in chunk:
            out.writerow((e.signal_type, e.value, json.dumps(list(e.labels))))
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {self.table} FROM STDIN WITH (FORMAT csv)", buffer)

    def finish(self) -> int:
        """How many entries were added (the INSERT's own count: no count of the bank's rows)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO moderation_bankentry "  # noqa: S608 - our table's name, values bound
                "(bank_id, signal_type, value, labels, added_by_id, added_at) "
                f"SELECT %s, signal_type, value, labels, %s, %s FROM {self.table} "
                # A hash the bank lists already, or that the file repeats, is skipped.
                "ON CONFLICT (bank_id, signal_type, value) WHERE removed_at IS NULL DO NOTHING",
                [self.bank.pk, self.user.pk if self.user else None, self.now],
            )
            added = cursor.rowcount
            cursor.execute(f"DROP TABLE {self.table}")
        return added


def _analyze_entries() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE moderation_bankentry")


def bank_import(
    *,
    bank: HashBank,
    text: str | None = None,
    lines: Iterable[str] | None = None,
    user=None,
    actor_label: str = "",
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Import a hash list (`text`, or `lines` read as they come: a file of ten million) into a
    bank, all or nothing: a bad line anywhere imports nothing, and every bad line is named (the
    first MAX_ERRORS_LISTED). `progress(lines read)` is called as it goes. Returns (added,
    already present). The index snapshot is taken once, at the end."""
    source = io.StringIO(text or "") if lines is None else lines
    allowed = set(bank.signal_types)
    now = timezone.now()
    errors: list[str] = []
    bad = read = 0
    types: set[str] = set()
    with transaction.atomic(durable=True):
        bank_write_gate()
        # One import per bank at a time: two at once would both insert the same new hash.
        HashBank.objects.select_for_update().filter(pk=bank.pk).first()
        sink = (_CopySink if connection.vendor == "postgresql" else _BulkSink)(bank, user, now)
        chunk: list[ParsedEntry] = []
        for number, raw in enumerate(source, start=1):
            parsed = _parse_line(number, raw, allowed)
            if parsed is None:
                continue
            if isinstance(parsed, str):
                bad += 1
                if len(errors) < MAX_ERRORS_LISTED:
                    errors.append(parsed)
                continue
            read += 1
            if bad:
                continue  # nothing will be imported: read on only to name the other bad lines
            chunk.append(parsed)
            types.add(parsed.signal_type)
            if len(chunk) == CHUNK:
                sink.write(chunk)
                chunk = []
                if progress:
                    progress(read)
        if bad:
            if bad > len(errors):
                errors.append(f"... and {bad - len(errors)} more bad lines")
            raise ImportFailed(errors)
        sink.write(chunk)
        added = sink.finish()
        if progress:
            progress(read)
        BankVersion.bump()
        if added:
            # Media already received may be copies of what was just listed.
            enqueue(rematch_media, bank.pk, now.isoformat())
        if added >= settings.INDEX_SNAPSHOT_FOLD_AT:
            # The planner's statistics must know the table grew, or every process's query for
            # the entries added since a snapshot reads the whole bank (68 s at 10M, measured).
            transaction.on_commit(_analyze_entries)
            # A list this size is folded into a new index snapshot once, at the end, rather than
            # carried as a delta by every process (moderation/banks/snapshot.py).
            for signal_type in sorted(types & set(PERCEPTUAL)):
                enqueue(take_index_snapshot, signal_type)
        audit_record(
            verb="bank.imported",
            obj=bank,
            actor=user,
            actor_label=actor_label,
            after={"added": added, "already_present": read - added, "lines": read},
        )
    return added, read - added


def bank_entry_remove(*, entry: BankEntry, user=None, actor_label: str = "") -> None:
    with transaction.atomic(durable=True):
        bank_write_gate()
        updated = BankEntry.objects.filter(pk=entry.pk, removed_at__isnull=True).update(
            removed_at=timezone.now()
        )
        if updated:
            BankVersion.bump()
            audit_record(
                verb="bankentry.removed",
                obj=entry,
                actor=user,
                actor_label=actor_label,
                before={
                    "bank": entry.bank.slug,
                    "signal_type": entry.signal_type,
                    "value": entry.value,
                },
            )


def bank_export(*, bank: HashBank, fmt: str = "csv") -> Iterable[str]:
    """The bank's live entries, as CSV (with a header) or as `<type> <hash>` lines."""
    rows = (
        BankEntry.objects.filter(bank=bank, removed_at__isnull=True)
        .order_by("pk")
        .values_list("signal_type", "value", "labels")
        .iterator(chunk_size=BATCH)
    )
    if fmt == "lines":
        for signal_type, value, _labels in rows:
            yield f"{signal_type} {value}\n"
        return
    out = io.StringIO()
    writer = csv.writer(out)
    # Labels follow as further columns, one each, which is how the import reads them back.
    writer.writerow(["signal_type", "signal_str", "labels"])
    yield out.getvalue()
    for signal_type, value, labels in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([signal_type, value, *(labels or [])])
        yield out.getvalue()
