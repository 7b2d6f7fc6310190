"""A published bank read as a feed by partner platforms (docs/feeds.md): its changes since a
checkpoint, a page at a time, or its whole current list; only signal types, signals, safe labels
and times, never where an entry came from (a decision, its case, its reviewer, the media).

How a checkpoint is exact. The feed is read in rounds. A round starts at a mark (M, C): every
entry with an id up to M is committed, and every removal stamped up to C is committed. It hands
out, in pages, (1) the removals stamped in (C0, C] of entries with ids up to M0 (the previous
round's mark: what the partner holds), by (removed_at, id), and (2) the entries with ids in
(M0, M] not removed by C, by id. By induction, after a round the partner holds exactly the bank's
entries with an id up to M not removed by C: nothing is missed, nothing comes twice, and an entry
added and removed between two polls never reaches the partner at all. Everything a round reads is
fixed by (M0, C0, M, C), which never change once committed, so its pages may be read at any pace.

The mark is exact as moderation/banks/snapshot.py's is: every transaction that adds or removes
entries holds BankWriteGate shared from its start, and the mark is read holding it exclusively,
so an entry id is assigned before commit but never appears below a mark read after it. Removals
are stamped by the writers' clocks: C is the mark's time less the same allowance the index
snapshots make (snapshot.SLACK), so a removal reaches the feed that much later. The gate is only
waited for briefly (a bulk import holds it for minutes; writers would queue behind the wait):
when it is busy, the newest index snapshot's mark, read the same way, serves; when there is none,
the caller is asked to come back (FeedBusy).

Label updates (an exchange relabelling an entry) are not changes here: a partner keeps the labels
an entry was first handed out with.
"""

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.core import signing
from django.db import OperationalError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from moderation.banks.hashlists import render
from moderation.banks.models import BankEntry, BankEntryFrame, HashBank, IndexSnapshot
from moderation.banks.snapshot import SLACK
from reports.vpdq import FrameHash, to_signal

# Changes handed out per response at most (a partner may ask for fewer).
PAGE_SIZE = 10_000
# Entries read per query while writing a whole list.
LIST_BATCH = 5_000
# How long a reader waits for writers to let go of the gate before using a snapshot's mark.
MARK_WAIT_MS = 250
CHECKPOINT_SALT = "vigil.feeds.checkpoint"
CHECKPOINT_VERSION = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Labels are categories and grades ("A2", "csam", "iwf:category-a"). Anything else an import or a
# programme put there might identify a case, a decision, a person or an account, and is left out:
# whitespace or other characters, long runs of digits (ids), and words naming such things.
SAFE_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+/-]{0,39}")
UNSAFE_LABEL = re.compile(
    r"\d{4,}|@|//|case|decision|review|user|account|owner|report|media|appeal|flag|email|name"
    r"|person|phone|address|ip[_:.-]",
    re.IGNORECASE,
)
MAX_LABELS = 20


class BadCheckpoint(ValueError):
    """Not a checkpoint this feed gave out for this bank."""


class FeedBusy(Exception):
    """No exact mark could be read just now (writers hold the gate and there is no snapshot)."""


def _now() -> datetime:
    return timezone.now()


def _us(moment: datetime) -> int:
    """Microseconds since 1970: exact, where a float of seconds is not."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _at(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Mark:
    entry_id: int  # every entry up to this id is committed
    cutoff: int  # every removal stamped up to this (µs) is committed


@dataclass(frozen=True)
class Checkpoint:
    """Where a partner is: it holds the bank's entries up to `held_id` not removed by `held_until`,
    and, in a round, how far the round got."""

    bank_id: int
    held_id: int = 0
    held_until: int = 0
    # A round in progress: its mark, the last addition and the last removal handed out.
    mark: Mark | None = None
    added_after: int = 0
    removed_after: tuple[int, int] = (0, 0)

    def encode(self) -> str:
        fields = [CHECKPOINT_VERSION, self.bank_id, self.held_id, self.held_until]
        if self.mark is not None:
            fields += [self.mark.entry_id, self.mark.cutoff, self.added_after, *self.removed_after]
        return signing.dumps(fields, salt=CHECKPOINT_SALT)

    @classmethod
    def decode(cls, text: str, *, bank: HashBank) -> "Checkpoint":
        try:
            fields = signing.loads(text, salt=CHECKPOINT_SALT)
        except signing.BadSignature:
            raise BadCheckpoint("Not a checkpoint this feed gave out.") from None
        if (
            not isinstance(fields, list)
            or len(fields) not in (4, 9)
            or not all(type(f) is int and f >= 0 for f in fields)
            or fields[0] != CHECKPOINT_VERSION
        ):
            raise BadCheckpoint("Not a checkpoint this feed gave out.")
        if fields[1] != bank.pk:
            raise BadCheckpoint("This checkpoint belongs to another bank's feed.")
        checkpoint = cls(bank_id=bank.pk, held_id=fields[2], held_until=fields[3])
        if len(fields) == 9:
            mark = Mark(fields[4], fields[5])
            checkpoint = replace(
                checkpoint, mark=mark, added_after=fields[6], removed_after=(fields[7], fields[8])
            )
        return checkpoint

    def begin(self, mark: Mark) -> "Checkpoint":
        """A round up to `mark` (never behind what the partner holds)."""
        mark = Mark(max(mark.entry_id, self.held_id), max(mark.cutoff, self.held_until))
        return replace(
            self, mark=mark, added_after=self.held_id, removed_after=(self.held_until, 0)
        )

    def held(self) -> list:
        """What the partner holds, for people: [entry id, time]."""
        return [self.held_id, _iso(_at(self.held_until))]

    def finished(self) -> "Checkpoint":
        return Checkpoint(
            bank_id=self.bank_id, held_id=self.mark.entry_id, held_until=self.mark.cutoff
        )


def _gate_mark() -> Mark | None:
    """Read the mark holding the gate exclusively, waiting MARK_WAIT_MS at most; None when
    writers hold it longer."""
    if connection.vendor != "postgresql":
        # SQLite: one writing transaction at a time, and ids grow with commits.
        with transaction.atomic():
            high = BankEntry.objects.aggregate(m=Max("pk"))["m"] or 0
            return Mark(high, _us(_now() - SLACK))
    try:
        with transaction.atomic(durable=True):
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{MARK_WAIT_MS}ms"])
                cursor.execute(
                    "INSERT INTO moderation_bankwritegate (id) VALUES (1) ON CONFLICT DO NOTHING"
                )
                cursor.execute("SELECT id FROM moderation_bankwritegate WHERE id = 1 FOR UPDATE")
            high = BankEntry.objects.aggregate(m=Max("pk"))["m"] or 0
            return Mark(high, _us(_now() - SLACK))
    except OperationalError as e:
        cause = e.__cause__
        code = getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)
        if code == "55P03":  # lock_not_available: writers hold the gate
            return None
        raise


def _snapshot_mark() -> Mark | None:
    """The index snapshots' marks were read the same way (snapshot._mark): each id part and each
    time part is exact on its own, so the highest of each is."""
    marks = IndexSnapshot.objects.aggregate(high=Max("high_water"), as_of=Max("as_of"))
    if marks["high"] is None:
        return None
    return Mark(marks["high"], _us(marks["as_of"] - SLACK))


def feed_mark() -> Mark:
    mark = _gate_mark() or _snapshot_mark()
    if mark is None:
        raise FeedBusy()
    return mark


def _shareable(bank: HashBank):
    """The bank's entries Vigil may hand on: not those a programme gave it (NCMEC's, StopNCII's,
    ThreatExchange's lists are shared under terms that forbid passing them on), only what Vigil
    listed itself: its reviewers' confirmations and its own imports."""
    return BankEntry.objects.filter(bank=bank, exchange__isnull=True)


def safe_labels(labels) -> list[str]:
    if not isinstance(labels, list):
        return []
    safe = [
        label
        for label in labels
        if isinstance(label, str) and SAFE_LABEL.fullmatch(label) and not UNSAFE_LABEL.search(label)
    ]
    return list(dict.fromkeys(safe))[:MAX_LABELS]


def _signals(rows: list[tuple]) -> dict[int, str]:
    """Each vPDQ entry's signal string among `rows` ((id, signal_type, ...)), rebuilt from its
    frames in one query."""
    videos = [row[0] for row in rows if row[1] == "vpdq"]
    if not videos:
        return {}
    frames: dict[int, list[FrameHash]] = {}
    for entry_id, position, pdq, quality, timestamp in (
        BankEntryFrame.objects.filter(entry_id__in=videos)
        .order_by("entry_id", "position")
        .values_list("entry_id", "position", "pdq", "quality", "timestamp")
    ):
        frames.setdefault(entry_id, []).append(FrameHash(position, timestamp, quality, pdq))
    return {pk: to_signal(frames.get(pk, [])) for pk in videos}


@dataclass
class FeedPage:
    lines: list[dict]
    checkpoint: Checkpoint
    more: bool
    added: int
    removed: int
    span: dict  # what the audit records: the marks the page read between


def feed_changes(*, bank: HashBank, checkpoint: str | None, limit: int = PAGE_SIZE) -> FeedPage:
    """The next page of changes to `bank` after `checkpoint` (None: from the start): removals
    first, then additions, at most `limit` in all. Raises BadCheckpoint, FeedBusy."""
    limit = max(1, min(limit, PAGE_SIZE))
    start = Checkpoint.decode(checkpoint, bank=bank) if checkpoint else Checkpoint(bank.pk)
    current = start if start.mark is not None else start.begin(feed_mark())
    mark = current.mark
    entries = _shareable(bank)
    last_at, last_id = current.removed_after
    removals = list(
        entries.filter(
            pk__lte=current.held_id,
            removed_at__gt=_at(current.held_until),
            removed_at__lte=_at(mark.cutoff),
        )
        .filter(Q(removed_at__gt=_at(last_at)) | Q(removed_at=_at(last_at), pk__gt=last_id))
        .order_by("removed_at", "pk")
        .values_list("pk", "signal_type", "value", "removed_at")[: limit + 1]
    )
    more = len(removals) > limit
    removals = removals[:limit]
    room = limit - len(removals)
    additions = []
    if not more and room:
        additions = list(
            entries.filter(pk__gt=current.added_after, pk__lte=mark.entry_id)
            .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=_at(mark.cutoff)))
            .order_by("pk")
            .values_list("pk", "signal_type", "value", "labels", "added_at")[: room + 1]
        )
        more = len(additions) > room
        additions = additions[:room]
    elif not more:
        more = True  # the page is full of removals: the additions come next time
    signals = _signals(removals + additions)
    lines = [
        {
            "id": str(pk),
            "signal_type": signal_type,
            "signal": signals.get(pk, value),
            "deleted": True,
            "removed_at": _iso(removed_at),
        }
        for pk, signal_type, value, removed_at in removals
    ] + [
        {
            "id": str(pk),
            "signal_type": signal_type,
            "signal": signals.get(pk, value),
            "labels": safe_labels(labels),
            "added_at": _iso(added_at),
            "deleted": False,
        }
        for pk, signal_type, value, labels, added_at in additions
    ]
    following = current
    if removals:
        following = replace(following, removed_after=(_us(removals[-1][3]), removals[-1][0]))
    if additions:
        following = replace(following, added_after=additions[-1][0])
    if not more:
        following = following.finished()
    span = {"held_before": start.held(), "round": [mark.entry_id, _iso(_at(mark.cutoff))]}
    return FeedPage(lines, following, more, len(additions), len(removals), span)


def feed_list(*, bank: HashBank) -> tuple[Iterator[str], Checkpoint]:
    """The bank's whole current list as python-threatexchange's dataset CSV (written as it is
    read), and the checkpoint its changes follow on from. Raises FeedBusy."""
    mark = feed_mark()
    after = Checkpoint(bank.pk).begin(mark).finished()
    return render(_list_rows(bank, mark), fmt="csv"), after


def _list_rows(bank: HashBank, mark: Mark) -> Iterable[tuple[str, str, list]]:
    """The entries the mark holds (ids up to it, not removed by its cutoff), a batch at a time:
    exactly what a partner holds after following the changes to the same mark."""
    entries = (
        _shareable(bank)
        .filter(pk__lte=mark.entry_id)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=_at(mark.cutoff)))
        .order_by("pk")
    )
    after = 0
    while True:
        batch = list(
            entries.filter(pk__gt=after).values_list("pk", "signal_type", "value", "labels")[
                :LIST_BATCH
            ]
        )
        if not batch:
            return
        signals = _signals(batch)
        for pk, signal_type, value, labels in batch:
            yield signal_type, signals.get(pk, value), safe_labels(labels)
        after = batch[-1][0]


def jsonl(lines: list[dict]) -> str:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
