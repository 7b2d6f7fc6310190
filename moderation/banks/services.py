"""Writes on hash banks: importing, adding and removing entries. Every change bumps BankVersion
so the in-memory indexes of every process rebuild within seconds."""

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
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
    "video_md5": "md5",
    "sha256": "sha256",
}
BATCH = 5000


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


def parse_hash_list(text: str, *, allowed: Iterable[str]) -> list[ParsedEntry]:
    """Parse python-threatexchange's CSV (`signal_type,signal_str,...`) or its `<type> <hash>`
    lines. Raises ImportFailed listing every bad line by number; blank lines and `#` comments are
    skipped, as is a CSV header."""
    allowed = set(allowed)
    entries, errors = [], []
    for number, raw in enumerate(io.StringIO(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = next(csv.reader([line])) if "," in line else line.split()
        if [f.strip().lower() for f in fields[:2]] == ["signal_type", "signal_str"]:
            continue
        if len(fields) < 2:
            errors.append(f"line {number}: expected a signal type and a hash, got {line[:80]!r}")
            continue
        kind = SIGNAL_ALIASES.get(fields[0].strip().lower())
        if kind is None:
            errors.append(f"line {number}: unknown signal type {fields[0].strip()[:40]!r}")
            continue
        if kind not in allowed:
            errors.append(f"line {number}: this bank does not hold {kind} hashes")
            continue
        try:
            value = parse_hex(kind, fields[1])
        except MalformedHash as e:
            errors.append(f"line {number}: {e}")
            continue
        labels = tuple(f.strip() for f in fields[2:] if f.strip())
        entries.append(ParsedEntry(number, kind, value, labels))
    if errors:
        raise ImportFailed(errors)
    return entries


def bank_import(
    *,
    bank: HashBank,
    text: str,
    user=None,
    actor_label: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Import a hash list into a bank, all or nothing. Returns (added, already present)."""
    entries = parse_hash_list(text, allowed=bank.signal_types)
    now = timezone.now()
    added = 0
    with transaction.atomic(durable=True):
        bank_write_gate()
        # One import per bank at a time: two at once would both insert the same new hash.
        HashBank.objects.select_for_update().filter(pk=bank.pk).first()
        live = set(
            BankEntry.objects.filter(bank=bank, removed_at__isnull=True).values_list(
                "signal_type", "value"
            )
        )
        fresh, seen = [], set()
        for e in entries:
            key = (e.signal_type, e.value)
            if key in live or key in seen:
                continue
            seen.add(key)
            fresh.append(e)
        for start in range(0, len(fresh), BATCH):
            chunk = fresh[start : start + BATCH]
            BankEntry.objects.bulk_create(
                [
                    BankEntry(
                        bank=bank,
                        signal_type=e.signal_type,
                        value=e.value,
                        labels=list(e.labels),
                        added_by=user,
                        added_at=now,
                    )
                    for e in chunk
                ]
            )
            added += len(chunk)
            if progress:
                progress(added, len(fresh))
        BankVersion.bump()
        if added:
            # Media already received may be copies of what was just listed.
            enqueue(rematch_media, bank.pk, now.isoformat())
        if added >= settings.INDEX_SNAPSHOT_FOLD_AT:
            # A list this size is folded into a new index snapshot once, at the end, rather than
            # carried as a delta by every process (moderation/banks/snapshot.py).
            for signal_type in sorted({e.signal_type for e in fresh} & set(PERCEPTUAL)):
                enqueue(take_index_snapshot, signal_type)
        audit_record(
            verb="bank.imported",
            obj=bank,
            actor=user,
            actor_label=actor_label,
            after={"added": added, "already_present": len(entries) - added, "lines": len(entries)},
        )
    return added, len(entries) - added


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
