"""Writes on hash banks: importing, adding, removing and withdrawing entries, releasing them from
quarantine. Every change of what matches bumps BankVersion so the in-memory indexes of every
process rebuild within seconds."""

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.services import audit_record, audit_record_many
from moderation.banks.governance import SUPPRESSING, open_cases_of
from moderation.banks.hashlists import ImportFailed, ParsedEntry, parse_line, render
from moderation.banks.jobs import reapply_matches, rematch_media, take_index_snapshot
from moderation.banks.models import (
    PERCEPTUAL,
    BankEntry,
    BankEntryFrame,
    BankVersion,
    HashBank,
    Match,
)
from moderation.banks.snapshot import bank_write_gate
from moderation.outbox.services import enqueue, enqueue_many
from reports.vpdq import FrameHash, to_signal

BATCH = 5000
# Lines handed to the database at a time, and bad lines named at most, in an import.
CHUNK = 50_000
MAX_ERRORS_LISTED = 1000


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
        videos = {e.value: e.frames for e in chunk if e.frames}
        if not videos:
            return
        # Frames for the entries this import added (an entry listed before keeps its own).
        added = self.live.filter(signal_type="vpdq", added_at=self.now, value__in=videos)
        BankEntryFrame.objects.bulk_create(
            [
                BankEntryFrame(
                    entry_id=pk, position=i, pdq=f.pdq, quality=f.quality, timestamp=f.timestamp
                )
                for pk, value in added.values_list("pk", "value")
                for i, f in enumerate(videos[value])
            ],
            batch_size=BATCH,
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
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.table}_frames "
                "(value text, position integer, pdq text, quality smallint, ts double precision) "
                "ON COMMIT DROP"
            )

    def write(self, chunk: list[ParsedEntry]) -> None:
        if not chunk:
            return
        self._copy(
            self.table, ((e.signal_type, e.value, json.dumps(list(e.labels))) for e in chunk)
        )
        self._copy(
            f"{self.table}_frames",
            (
                (e.value, i, f.pdq, f.quality, repr(f.timestamp))
                for e in chunk
                for i, f in enumerate(e.frames)
            ),
        )

    def _copy(self, table: str, rows) -> None:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        if not buffer.tell():
            return
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", buffer)

    def finish(self) -> int:
        """How many entries were added (the INSERT's own count: no count of the bank's rows)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO moderation_bankentry "  # noqa: S608 - our table's name, values bound
                # Every NOT NULL column without a database default is named (migration 0038's
                # text columns have none: an import left them out failed).
                "(bank_id, signal_type, value, labels, added_by_id, added_at, source_id, "
                "quarantine_reason) "
                f"SELECT %s, signal_type, value, labels, %s, %s, '', '' FROM {self.table} "
                # A hash the bank lists already, or that the file repeats, is skipped.
                "ON CONFLICT (bank_id, signal_type, value) WHERE removed_at IS NULL DO NOTHING",
                [self.bank.pk, self.user.pk if self.user else None, self.now],
            )
            added = cursor.rowcount
            # A vPDQ entry's frames, for the entries this import added (an entry listed before
            # keeps its own; one listed twice in the file has its frames once).
            cursor.execute(
                "INSERT INTO moderation_bankentryframe "  # noqa: S608 - our tables, values bound
                "(entry_id, position, pdq, quality, timestamp) "
                f"SELECT DISTINCT ON (e.id, f.position) e.id, f.position, f.pdq, f.quality, f.ts "
                f"FROM {self.table}_frames f JOIN moderation_bankentry e "
                "ON e.bank_id = %s AND e.signal_type = 'vpdq' AND e.value = f.value "
                "AND e.added_at = %s AND e.removed_at IS NULL "
                "ON CONFLICT (entry_id, position) DO NOTHING",
                [self.bank.pk, self.now],
            )
            cursor.execute(f"DROP TABLE {self.table}, {self.table}_frames")
        return added


def _analyze_entries() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE moderation_bankentry, moderation_bankentryframe")


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
        # Rows a chunk writes (a vPDQ entry writes one per frame): chunks are cut by rows, so a
        # list of hour-long videos is held a few at a time, not 50,000 at a time.
        rows = frames = 0
        for number, raw in enumerate(source, start=1):
            parsed = parse_line(number, raw, allowed)
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
            rows += 1 + len(parsed.frames)
            frames += len(parsed.frames)
            if rows >= CHUNK:
                sink.write(chunk)
                chunk, rows = [], 0
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
        # A vPDQ entry is as many index rows as it has frames (moderation/banks/frame_index.py).
        if added and max(added, frames) >= settings.INDEX_SNAPSHOT_FOLD_AT:
            # The planner's statistics must know the table grew, or every process's query for
            # the entries added since a snapshot reads the whole bank (68 s at 10M, measured).
            transaction.on_commit(_analyze_entries)
            # A list this size is folded into a new index snapshot once, at the end, rather than
            # carried as a delta by every process (moderation/banks/snapshot.py).
            for signal_type in sorted(types & {*PERCEPTUAL, "vpdq"}):
                enqueue(take_index_snapshot, signal_type)
        audit_record(
            verb="bank.imported",
            obj=bank,
            actor=user,
            actor_label=actor_label,
            after={"added": added, "already_present": read - added, "lines": read},
        )
    return added, read - added


def bank_entry_remove(
    *, entry: BankEntry, user=None, actor_label: str = "", reason: str = "", ip: str | None = None
) -> bool:
    """Remove an entry: it matches nothing new, and its matches stop counting from now on
    (Match.withdrawn_at; open cases they raised or routed are brought back in line by a job).
    Returns whether it was live."""
    with transaction.atomic(durable=True):
        bank_write_gate()
        removed = entries_withdraw(entry_ids=[entry.pk])
        if removed:
            audit_record(
                verb="bankentry.removed",
                obj=entry,
                actor=user,
                actor_label=actor_label,
                before={
                    "bank": entry.bank.slug,
                    "signal_type": entry.signal_type,
                    "value": entry.value,
                    **(
                        {"quarantined_at": entry.quarantined_at.isoformat()}
                        if entry.quarantined_at
                        else {}
                    ),
                },
                after={"reason": reason[:300]} if reason else None,
                ip=ip,
            )
    return bool(removed)


def bank_entries_withdraw(*, entry_ids: list[int], reason: str, actor_label: str) -> int:
    """Remove entries withdrawn at source (an exchange's sync names them) and mark their matches
    withdrawn, in one transaction; the open cases those matches raised or routed are brought
    back in line by a job after commit. Idempotent: entries already removed are skipped (their
    matches still unmarked are marked). Returns how many entries it removed."""
    with transaction.atomic(durable=True):
        bank_write_gate()
        removed = entries_withdraw(entry_ids=entry_ids)
        audit_record_many(
            [
                {
                    "verb": "bankentry.withdrawn",
                    "obj": entry,
                    "actor_label": actor_label,
                    "before": {
                        "bank": entry.bank.slug,
                        "signal_type": entry.signal_type,
                        "value": entry.value,
                        **({"source_id": entry.source_id} if entry.source_id else {}),
                    },
                    "after": {"reason": reason[:300]},
                }
                for entry in removed
            ]
        )
    return len(removed)


@in_transaction
def entries_withdraw(*, entry_ids: list[int], now=None) -> list[BankEntry]:
    """Remove the live entries among `entry_ids` and mark the matches of all of them withdrawn;
    matches an allow-list entry among them suppressed are suppressed by another allow-list
    match of their media if there is one, else count again. Open cases whose matches changed
    are brought in line by a job after commit. Part of the caller's change (it audits): hold
    the bank write gate (snapshot.bank_write_gate). Returns the entries removed, with their
    banks."""
    now = now or timezone.now()
    ids = sorted(set(entry_ids))
    removed = []
    cases: set[int] = set()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        # Locked in id order, as matching locks them (governance.matches_record).
        live = list(
            BankEntry.objects.select_for_update(of=("self",))
            .select_related("bank")
            .filter(pk__in=chunk, removed_at__isnull=True)
            .order_by("pk")
        )
        if live:
            BankEntry.objects.filter(pk__in=[e.pk for e in live]).update(removed_at=now)
            removed += live
        withdrawn = Match.objects.filter(entry_id__in=chunk, withdrawn_at__isnull=True)
        freed = Match.objects.filter(suppressed_by__entry_id__in=chunk)
        cases.update(open_cases_of(withdrawn))
        cases.update(open_cases_of(freed))
        withdrawn.update(withdrawn_at=now)
        # Another allow-list match of the same media (still counting), or none.
        freed.update(
            suppressed_by=Subquery(
                Match.objects.filter(SUPPRESSING, media=OuterRef("media"))
                .order_by("pk")
                .values("pk")[:1]
            )
        )
    if removed:
        BankVersion.bump()
    ordered = sorted(cases)
    enqueue_many(
        reapply_matches,
        [(ordered[i : i + BATCH], "bank entries withdrawn") for i in range(0, len(ordered), BATCH)],
    )
    return removed


def bank_entry_release(*, entry_id: int, reason: str, user, ip: str | None = None) -> BankEntry:
    """Release an entry from quarantine (a supervisor judged its surge of matches sound): its
    policy acts again on the matches it makes from now on. Open cases it matched while
    quarantined regain the priority and routing those matches earn (a job after commit); they
    are not acted on (no removal, suspension or escalation asked for after the fact: a reviewer
    sees them first). ValidationError when it is not quarantined."""
    with transaction.atomic(durable=True):
        entry = (
            BankEntry.objects.select_for_update(of=("self",))
            .select_related("bank")
            .filter(pk=entry_id)
            .first()
        )
        if entry is None or entry.removed_at is not None:
            raise ValidationError("This entry is no longer in its bank.")
        if entry.quarantined_at is None:
            raise ValidationError("This entry is not quarantined (released meanwhile?).")
        before = {
            "bank": entry.bank.slug,
            "quarantined_at": entry.quarantined_at.isoformat(),
            "quarantine_reason": entry.quarantine_reason,
        }
        entry.quarantined_at, entry.quarantine_reason = None, ""
        entry.save(update_fields=["quarantined_at", "quarantine_reason"])
        audit_record(
            verb="bankentry.released",
            obj=entry,
            actor=user,
            before=before,
            after={"reason": reason[:300]},
            ip=ip,
        )
        cases = open_cases_of(Match.objects.filter(entry=entry, withdrawn_at__isnull=True))
        enqueue_many(
            reapply_matches,
            [(cases[i : i + BATCH], "bank entry released") for i in range(0, len(cases), BATCH)],
        )
    return entry


def bank_export(*, bank: HashBank, fmt: str = "csv") -> Iterable[str]:
    """The bank's live entries, as CSV (with a header) or as `<type> <hash>` lines; a vPDQ
    entry as its signal string, rebuilt from its frames."""
    return render(_export_rows(bank), fmt=fmt)


def _export_rows(bank: HashBank) -> Iterable[tuple[str, str, list]]:
    """(signal type, signal string, labels) of the live entries, by id, a batch at a time (a vPDQ
    entry's frames read with its batch: one query per batch, not per video)."""
    live = BankEntry.objects.filter(bank=bank, removed_at__isnull=True).order_by("pk")
    after = 0
    while True:
        batch = list(
            live.filter(pk__gt=after).values_list("pk", "signal_type", "value", "labels")[:BATCH]
        )
        if not batch:
            return
        videos = [pk for pk, signal_type, _, _ in batch if signal_type == "vpdq"]
        frames: dict[int, list[FrameHash]] = {}
        for entry_id, position, pdq, quality, timestamp in (
            BankEntryFrame.objects.filter(entry_id__in=videos)
            .order_by("entry_id", "position")
            .values_list("entry_id", "position", "pdq", "quality", "timestamp")
        ):
            frames.setdefault(entry_id, []).append(FrameHash(position, timestamp, quality, pdq))
        for pk, signal_type, value, labels in batch:
            yield (
                signal_type,
                to_signal(frames.get(pk, [])) if signal_type == "vpdq" else value,
                labels,
            )
        after = batch[-1][0]
