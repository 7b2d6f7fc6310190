"""Syncing a bank from its exchange: pages fetched from the stored checkpoint, each applied to the
bank in one transaction with the checkpoint that follows it.

So a sync that dies anywhere (a worker killed, the machine gone, the programme failing between
two pages) resumes after the last page it applied, and applying a page again changes nothing:
an item's signals are upserted by (bank, signal type, value), a withdrawal removes what is still
live. One sync of an exchange runs at a time: it holds the exchange's lease, renewed with every
page; a lease left by a dead worker runs out and the next sync takes over the same ExchangeSync
row, which counts its attempts.

Failures are told apart by the client (clients/base.py): the programme being unavailable or
asking to slow down is retried by the schedule after a backoff (longer each time, at least what
the programme asked); refused credentials and pages that cannot be read end the sync as failed,
saying why, without a retry until someone looks (or the schedule's next turn after the backoff).
Every sync is recorded (ExchangeSync: counts, duration, error) and audited.
"""

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from moderation.audit.services import audit_record
from moderation.banks.hashlists import ParsedEntry, parse_line
from moderation.banks.jobs import rematch_media, take_index_snapshot
from moderation.banks.models import PERCEPTUAL, BankEntry, BankEntryFrame, BankVersion, HashBank
from moderation.banks.services import entries_withdraw
from moderation.banks.snapshot import bank_write_gate
from moderation.exchanges.clients import client_for
from moderation.exchanges.clients.base import (
    ExchangeError,
    ExchangeRateLimited,
    ExchangeUnavailable,
    Page,
    Update,
)
from moderation.exchanges.models import EntrySource, Exchange, ExchangeSync
from moderation.outbox.services import enqueue

# A sync holds its exchange this long past its last applied page.
LEASE_SECONDS = 15 * 60
# After the n-th failure in a row the schedule waits BACKOFF[n-1] (the last one from then on).
BACKOFF_SECONDS = [60, 5 * 60, 15 * 60, 60 * 60, 6 * 60 * 60]
# Invalid hashes a page may carry that are skipped (and named) rather than failing the sync.
NOTES_KEPT = 20


class SyncBusy(Exception):
    """Another sync of this exchange holds it."""


class LeaseLost(Exception):
    """This sync's lease ran out and another sync took the exchange over."""


@dataclass
class PageResult:
    added: int = 0
    updated: int = 0
    removed: int = 0
    notes: list[str] = field(default_factory=list)


def exchange_sync(*, exchange_id: int, trigger: str = "schedule", user=None) -> ExchangeSync:
    """Sync the exchange from its checkpoint to the programme's latest; the sync's record.
    SyncBusy when another sync holds it (the caller may simply try later)."""
    lease, sync = _begin(exchange_id, trigger, user)
    exchange = Exchange.objects.select_related("bank").get(pk=exchange_id)
    notes: list[str] = []
    try:
        client = client_for(exchange)
        for page in client.fetch(dict(exchange.checkpoint)):
            result = _apply_page(exchange_id, sync.pk, lease, page)
            notes += result.notes
            if page.last:
                break
        if getattr(client, "complete_list", False):
            _withdraw_unseen(exchange_id, sync.pk, lease)
    except (ExchangeRateLimited, ExchangeUnavailable) as e:
        wait = getattr(e, "retry_after", 0)
        return _end(exchange_id, sync.pk, lease, error=str(e), retry_after=wait, notes=notes)
    except ExchangeError as e:
        return _end(exchange_id, sync.pk, lease, error=str(e), notes=notes)
    except LeaseLost:
        return ExchangeSync.objects.get(pk=sync.pk)
    except Exception as e:
        # A fault of ours or an unexpected answer: recorded, the lease let go, then raised so
        # the job's own retry and the logs see it.
        _end(exchange_id, sync.pk, lease, error=f"unexpected error: {type(e).__name__}: {e}")
        raise
    return _end(exchange_id, sync.pk, lease, notes=notes)


def _begin(exchange_id: int, trigger: str, user) -> tuple[str, ExchangeSync]:
    """Take the exchange's lease and the sync's record (a new one, or the running one a dead
    worker left)."""
    now = timezone.now()
    lease = secrets.token_hex(16)
    with transaction.atomic(durable=True):
        exchange = Exchange.objects.select_for_update().get(pk=exchange_id)
        if exchange.sync_lease and exchange.sync_lease_until > now:
            raise SyncBusy(f"{exchange.name} is being synced")
        exchange.sync_lease = lease
        exchange.sync_lease_until = now + timedelta(seconds=LEASE_SECONDS)
        exchange.last_synced_at = now
        exchange.save(update_fields=["sync_lease", "sync_lease_until", "last_synced_at"])
        sync = ExchangeSync.objects.filter(
            exchange=exchange, status=ExchangeSync.Status.RUNNING
        ).first()
        resumed = sync is not None
        if sync is None:
            sync = ExchangeSync.objects.create(
                exchange=exchange,
                trigger=trigger,
                requested_by=user,
                checkpoint_before=exchange.checkpoint,
                checkpoint_after=exchange.checkpoint,
            )
        sync.attempts = F("attempts") + 1
        sync.save(update_fields=["attempts"])
        sync.refresh_from_db()
        audit_record(
            verb="exchange.sync_started",
            obj=exchange,
            actor=user,
            actor_label="" if user else "schedule",
            after={"sync": sync.pk, "trigger": trigger, "resumed": resumed},
        )
    return lease, sync


def _locked(exchange_id: int, lease: str) -> Exchange:
    exchange = Exchange.objects.select_for_update().select_related("bank").get(pk=exchange_id)
    if exchange.sync_lease != lease:
        raise LeaseLost()
    return exchange


def _apply_page(exchange_id: int, sync_id: int, lease: str, page: Page) -> PageResult:
    with transaction.atomic(durable=True):
        bank_write_gate()
        # Stamped once the gate is held: snapshots and feeds rely on removal times no older
        # than the moment their transaction could write (moderation/banks/snapshot.py SLACK).
        now = timezone.now()
        exchange = _locked(exchange_id, lease)
        # One sync or import writes a bank at a time (two would insert the same new hash).
        HashBank.objects.select_for_update().filter(pk=exchange.bank_id).first()
        result = PageResult(notes=list(page.notes))
        sync = ExchangeSync.objects.only("started_at", "added").get(pk=sync_id)
        _apply_updates(exchange, page.updates, now, result, added_at=sync.started_at)
        exchange.checkpoint = page.checkpoint
        exchange.sync_lease_until = now + timedelta(seconds=LEASE_SECONDS)
        exchange.save(update_fields=["checkpoint", "sync_lease_until"])
        ExchangeSync.objects.filter(pk=sync_id).update(
            pages=F("pages") + 1,
            added=F("added") + result.added,
            updated=F("updated") + result.updated,
            removed=F("removed") + result.removed,
            checkpoint_after=page.checkpoint,
        )
        if result.added or result.removed:
            BankVersion.bump()
        if _crossed(sync.added, sync.added + result.added):
            # The planner must know the tables grew while a first sync of millions fills them,
            # or each page's lookups read them whole (a page took 2 s more at a million).
            transaction.on_commit(_analyze)
    return result


def _crossed(before: int, after: int) -> bool:
    """Whether a sync's additions passed 10,000, 100,000, 1,000,000, ... on this page."""
    mark = 10_000
    while mark <= after:
        if before < mark:
            return True
        mark *= 10
    return False


def _analyze() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE moderation_bankentry, moderation_entrysource")


def _parse(exchange: Exchange, update: Update, result: PageResult) -> list[ParsedEntry]:
    """The update's signals as entries of the bank (vPDQ signals with their frames), each checked
    as an imported line is; a signal the bank does not hold or that is not valid is skipped and
    named."""
    allowed = set(exchange.bank.signal_types)
    parsed = []
    for signal in update.signals:
        entry = parse_line(0, f"{signal.signal_type},{signal.value}", allowed)
        if isinstance(entry, ParsedEntry):
            parsed.append(entry)
        elif entry is not None and len(result.notes) < NOTES_KEPT:
            reason = entry.removeprefix("line 0: ")
            result.notes.append(f"item {update.source_id[:80]}: {reason}")
    return parsed


def _apply_updates(
    exchange: Exchange, updates: list[Update], now, result: PageResult, *, added_at
) -> None:
    """A page's items, in a fixed number of queries whatever its size (and one UPDATE per entry
    whose labels changed): each item's entries upserted, with its labels and when it was last
    seen, and the item recorded as listing them (EntrySource); what an item no longer lists, or
    all it listed when it is withdrawn at source, no longer listed by it; an entry no item lists
    any more is removed. An item listed twice in a page counts as its last listing."""
    items: dict[str, Update] = {u.source_id: u for u in updates}
    listed = {sid: ([] if u.deleted else _parse(exchange, u, result)) for sid, u in items.items()}
    _unlist(exchange, items, listed, now, result)
    wanted: dict[tuple[str, str], tuple[list[str], ParsedEntry]] = {}
    for sid, entries in listed.items():
        for e in entries:
            wanted.setdefault((e.signal_type, e.value), ([], e))[0].append(sid)
    if not wanted:
        return
    # By signal type and value: the live entries' lookup index answers it (by value alone it
    # cannot: 2 s a page at a million entries, measured; 60 ms this way).
    by_type: dict[str, set[str]] = {}
    for signal_type, value in wanted:
        by_type.setdefault(signal_type, set()).add(value)
    lookup = Q()
    for signal_type, values in by_type.items():
        lookup |= Q(signal_type=signal_type, value__in=values)
    existing = {
        (signal_type, value): (pk, owner, labels)
        for pk, signal_type, value, owner, labels in BankEntry.objects.filter(
            lookup, bank_id=exchange.bank_id, removed_at__isnull=True
        ).values_list("pk", "signal_type", "value", "exchange_id", "labels")
    }
    BankEntry.objects.filter(pk__in=[pk for pk, _, _ in existing.values()]).update(last_seen_at=now)
    for key, (pk, owner, labels) in existing.items():
        sources, _entry = wanted[key]
        new_labels = list(items[sources[-1]].labels)
        # An entry Vigil listed itself (an import, a confirmation) stays Vigil's: the programme
        # is recorded as listing it too (EntrySource), its withdrawal does not remove it.
        if owner == exchange.pk and labels != new_labels:
            BankEntry.objects.filter(pk=pk).update(labels=new_labels)
            result.updated += 1
    created = BankEntry.objects.bulk_create(
        [
            BankEntry(
                bank_id=exchange.bank_id,
                signal_type=entry.signal_type,
                value=entry.value,
                labels=list(items[sources[-1]].labels),
                # The sync's start: one rematch of what the whole sync added (its end), however
                # many pages and attempts it took. When it came: first_seen_at.
                added_at=added_at,
                exchange=exchange,
                source_id=sources[0],
                first_seen_at=now,
                last_seen_at=now,
            )
            for key, (sources, entry) in wanted.items()
            if key not in existing
        ]
    )
    BankEntryFrame.objects.bulk_create(
        BankEntryFrame(entry=c, position=i, pdq=f.pdq, quality=f.quality, timestamp=f.timestamp)
        for c in created
        for i, f in enumerate(wanted[(c.signal_type, c.value)][1].frames)
    )
    result.added += len(created)
    entry_ids = {key: pk for key, (pk, _, _) in existing.items()}
    entry_ids |= {(c.signal_type, c.value): c.pk for c in created}
    # Sources already recorded are seen again (entries that existed before the page only);
    # then the new ones are written once.
    EntrySource.objects.filter(
        exchange=exchange,
        source_id__in=list(items),
        entry_id__in=[pk for pk, _, _ in existing.values()],
    ).update(last_seen_at=now)
    EntrySource.objects.bulk_create(
        [
            EntrySource(
                entry_id=entry_ids[key],
                exchange=exchange,
                source_id=sid,
                first_seen_at=now,
                last_seen_at=now,
            )
            for key, (sources, _) in wanted.items()
            for sid in sources
        ],
        ignore_conflicts=True,
    )


def _unlist(exchange: Exchange, items: dict[str, Update], listed, now, result: PageResult) -> None:
    """What these items listed before and list no more (all of it, for an item withdrawn at
    source): they stop listing it, and an entry of this exchange that no item lists any more is
    removed."""
    keep = {sid: {(e.signal_type, e.value) for e in entries} for sid, entries in listed.items()}
    dropped, touched = [], set()
    for pk, sid, entry_id, signal_type, value in EntrySource.objects.filter(
        exchange=exchange, source_id__in=list(items), entry__removed_at__isnull=True
    ).values_list("pk", "source_id", "entry_id", "entry__signal_type", "entry__value"):
        if (signal_type, value) not in keep[sid]:
            dropped.append(pk)
            touched.add(entry_id)
    if not dropped:
        return
    EntrySource.objects.filter(pk__in=dropped).delete()
    orphans = list(
        BankEntry.objects.filter(pk__in=touched, exchange=exchange, removed_at__isnull=True)
        .exclude(Exists(EntrySource.objects.filter(entry=OuterRef("pk"))))
        .values_list("pk", flat=True)
    )
    if orphans:
        withdrawn = any(items[sid].deleted for sid in items)
        result.removed += _remove(exchange, orphans, now, withdrawn=withdrawn)


def _remove(exchange: Exchange, entry_ids: list[int], now, *, withdrawn: bool) -> int:
    """Remove entries the programme no longer lists, inside the page's transaction: their
    matches stop counting from now on, and the open cases they raised or routed are brought back
    in line after commit (banks.services.entries_withdraw)."""
    removed = len(entries_withdraw(entry_ids=entry_ids, now=now))
    if removed:
        audit_record(
            verb="exchange.entries_withdrawn",
            obj=exchange,
            actor_label=f"exchange {exchange.slug}",
            after={
                "entries": entry_ids[:100],
                "count": removed,
                "why": "withdrawn at source" if withdrawn else "no longer listed by the item",
            },
        )
    return removed


def _withdraw_unseen(exchange_id: int, sync_id: int, lease: str) -> None:
    """For a programme that serves its whole list each time (a feed without a checkpoint): what
    this sync did not see is no longer listed."""
    with transaction.atomic(durable=True):
        bank_write_gate()
        exchange = _locked(exchange_id, lease)
        sync = ExchangeSync.objects.get(pk=sync_id)
        unseen = list(
            BankEntry.objects.filter(
                exchange=exchange, removed_at__isnull=True, last_seen_at__lt=sync.started_at
            ).values_list("pk", flat=True)
        )
        if unseen:
            removed = _remove(exchange, unseen, timezone.now(), withdrawn=True)
            ExchangeSync.objects.filter(pk=sync_id).update(removed=F("removed") + removed)
            BankVersion.bump()


def _end(
    exchange_id: int,
    sync_id: int,
    lease: str,
    *,
    error: str = "",
    retry_after: int | None = None,
    notes: list[str] | None = None,
) -> ExchangeSync:
    """Record how the sync ended and let the exchange go. A failure sets the backoff: the
    schedule tries again after it (at least `retry_after`, when the programme said)."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        exchange = Exchange.objects.select_for_update().get(pk=exchange_id)
        sync = ExchangeSync.objects.select_for_update().get(pk=sync_id)
        if exchange.sync_lease != lease:
            return sync  # another sync took over: it records the end
        text = "\n".join([error, *(notes or [])[:NOTES_KEPT]]).strip()
        sync.status = ExchangeSync.Status.FAILED if error else ExchangeSync.Status.SUCCEEDED
        sync.finished_at = now
        sync.error = text[:5000]
        sync.save(update_fields=["status", "finished_at", "error"])
        if error:
            exchange.failures += 1
            wait = BACKOFF_SECONDS[min(exchange.failures, len(BACKOFF_SECONDS)) - 1]
            exchange.next_attempt_at = now + timedelta(seconds=max(wait, retry_after or 0))
        else:
            exchange.failures = 0
            exchange.next_attempt_at = None
            exchange.last_success_at = now
        if sync.added:
            # Media already received may be copies of what the sync listed: one rematch of all
            # it added (whether it ended well or not: what it applied stays).
            enqueue(rematch_media, exchange.bank_id, sync.started_at.isoformat())
        if sync.added >= settings.INDEX_SNAPSHOT_FOLD_AT:
            # As after a large import: folded into new index snapshots once, at the end, rather
            # than carried as a delta by every process (moderation/banks/snapshot.py).
            transaction.on_commit(_analyze)
            bank = HashBank.objects.get(pk=exchange.bank_id)
            for signal_type in sorted(set(bank.signal_types) & {*PERCEPTUAL, "vpdq"}):
                enqueue(take_index_snapshot, signal_type)
        exchange.sync_lease, exchange.sync_lease_until = "", None
        exchange.save(
            update_fields=[
                "failures",
                "next_attempt_at",
                "last_success_at",
                "sync_lease",
                "sync_lease_until",
            ]
        )
        audit_record(
            verb="exchange.synced" if not error else "exchange.sync_failed",
            obj=exchange,
            actor_label=f"exchange {exchange.slug}",
            after={
                "sync": sync.pk,
                "pages": sync.pages,
                "added": sync.added,
                "updated": sync.updated,
                "removed": sync.removed,
                "seconds": round((now - sync.started_at).total_seconds(), 3),
                **(
                    {"error": error[:500], "retry_at": exchange.next_attempt_at.isoformat()}
                    if error
                    else {}
                ),
            },
        )
    return sync
