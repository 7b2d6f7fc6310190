"""Verifying the audit hash chain (moderation/audit/chain.py holds the canonical form and sealing).

The chain is checked in *spans*: contiguous stretches of seq, each checked on its own (gaps in
seq, links from each event to the one before, every content hash) and then joined in seq order,
checking that each span starts where the one before ended (the next seq, the previous hash). An
event's content hash depends only on its own row and its stored prev_hash, so spans need nothing
from one another and can be checked at the same time.

In one process the whole chain is one span. With `workers` > 1 (PostgreSQL, outside a
transaction) the chain is cut into several spans per worker and each span is checked in a worker
process with its own database connection: the rows never pass between processes, only each span's
few summary fields. Workers are started with the `spawn` method (a fresh interpreter), never
`fork`: forking a process that runs threads (a test runner, an RQ worker) can leave the child
holding a lock no thread will release. Inside a transaction the caller may hold audit events other
connections cannot see yet, so verification then stays in-process.

Whatever the number of workers, the result is the same: spans are joined in seq order, so the
first bad event of the chain is the one named, with the count of good events before it.
"""

import math
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import django
from django.conf import settings
from django.db import connections
from django.db.models import Max
from django.utils import timezone

from moderation.audit.chain import (
    GENESIS,
    UNSEALED_GRACE,
    VERIFY_BATCH,
    _content,
    _model,
    event_hash,
)
from moderation.audit.head import ChainHead

# Spans per worker: a failure early in the chain stops the run after a fraction of it, and a
# worker slowed by the machine delays the end by less.
SPANS_PER_WORKER = 4


@dataclass
class Verification:
    ok: bool
    checked: int
    message: str
    bad_id: int | None = None
    bad_seq: int | None = None
    last_seq: int = 0
    last_hash: str = GENESIS
    workers: int = 1


@dataclass
class Span:
    """One stretch of the chain checked on its own. `first` is its first event as stored
    (seq, id, prev_hash), None when the stretch is empty; `last_seq`/`last_hash` end the good
    part; `bad` is the first bad event inside it (id, seq, message), found after `checked` good
    ones."""

    first: tuple[int, int, str] | None
    last_seq: int
    last_hash: str
    checked: int
    bad: tuple[int, int, str] | None = None


def default_workers() -> int:
    return settings.AUDIT_VERIFY_WORKERS


def _gap(event_id: int, seq: int, expected: int) -> str:
    missing = f" (seq {expected}..{seq - 1} missing)" if seq > expected else ""
    return f"gap in seq: event id {event_id} has seq {seq}, expected {expected}{missing}"


def _broken_link(event_id: int, seq: int, prev_hash: str, prev: str) -> str:
    return (
        f"broken link: event id {event_id} (seq {seq}) has prev_hash {prev_hash}, "
        f"but the hash of seq {seq - 1} is {prev}"
    )


def _changed(event_id: int, seq: int) -> str:
    return (
        f"content hash mismatch: event id {event_id} (seq {seq}) does not hash to "
        "its stored hash: it was changed after it was sealed"
    )


def check_span(rows: Iterable[tuple]) -> Span:
    """Check rows (seq, prev_hash, hash, *CONTENT) given in seq order. The first row's seq and
    prev_hash are taken as they are: joining the spans checks them."""
    first, expected, prev, checked = None, 0, GENESIS, 0
    for row in rows:
        seq, prev_hash, stored, event_id = row[0], row[1], row[2], row[3]
        if first is None:
            first, expected, prev = (seq, event_id, prev_hash), seq, prev_hash
        elif seq != expected:
            return Span(
                first, expected - 1, prev, checked, (event_id, seq, _gap(event_id, seq, expected))
            )
        elif prev_hash != prev:
            message = _broken_link(event_id, seq, prev_hash, prev)
            return Span(first, expected - 1, prev, checked, (event_id, seq, message))
        if event_hash(row[3:], seq=seq, prev_hash=prev_hash) != stored:
            return Span(
                first, expected - 1, prev, checked, (event_id, seq, _changed(event_id, seq))
            )
        prev, expected, checked = stored, expected + 1, checked + 1
    return Span(first, expected - 1, prev, checked)


def _rows(low: int | None, high: int | None, batch: int) -> Iterator[tuple]:
    """The events with low <= seq <= high (either end open when None) in seq order, `batch` at
    a time (keyset on the unique seq index: memory stays bounded at any size)."""
    rows = _content(_model()._default_manager.filter(seq__isnull=False), "seq", "prev_hash", "hash")
    if high is not None:
        rows = rows.filter(seq__lte=high)
    after = None if low is None else low - 1
    while True:
        page = list((rows if after is None else rows.filter(seq__gt=after)).order_by("seq")[:batch])
        yield from page
        if len(page) < batch:
            return
        after = page[-1][0]


def _join(spans: Iterable[Span], workers: int) -> Verification:
    """Join spans given in seq order into the chain's verdict (the first bad event wins)."""
    last_seq, last_hash, checked = 0, GENESIS, 0
    for span in spans:
        if span.first is None:
            continue
        seq, event_id, prev_hash = span.first
        if seq != last_seq + 1:
            bad = (event_id, seq, _gap(event_id, seq, last_seq + 1))
        elif prev_hash != last_hash:
            bad = (event_id, seq, _broken_link(event_id, seq, prev_hash, last_hash))
        else:
            checked, last_seq, last_hash = checked + span.checked, span.last_seq, span.last_hash
            if span.bad is None:
                continue
            bad = span.bad
        event_id, seq, message = bad
        return Verification(False, checked, message, event_id, seq, last_seq, last_hash, workers)
    return Verification(True, checked, "", None, None, last_seq, last_hash, workers)


def _bounds(top: int, spans: int) -> list[tuple[int | None, int | None]]:
    """`spans` contiguous seq ranges covering 1..top; the first open below (a forged seq of 0 or
    less is met, as a gap) and the last open above (events sealed while verifying are checked)."""
    size = max(1, math.ceil(top / spans))
    starts = list(range(1, top + 1, size))
    bounds = [(start, start + size - 1) for start in starts]
    bounds[0] = (None, bounds[0][1])
    bounds[-1] = (bounds[-1][0], None)
    return bounds


def exit_when_orphaned(parent: int, interval: float = 1.0) -> threading.Thread:
    """Leave (exit status 1) once `parent` is no longer this process's parent: a verification
    killed outright (cron's timeout, the OOM killer) must not leave its workers reading on."""

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=watch, name="exit-when-orphaned", daemon=True)
    thread.start()
    return thread


def _worker_setup(settings_module: str, database: dict, parent: int) -> None:
    """A spawned worker: set Django up and point it at the caller's database (under tests the
    caller's database name is not the one the settings give)."""
    exit_when_orphaned(parent)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    django.setup()
    connections["default"].settings_dict = dict(database)


def _check_range(low: int | None, high: int | None, batch: int) -> Span:
    try:
        return check_span(_rows(low, high, batch))
    finally:
        connections.close_all()  # a worker may sit idle, or be ended, before its next span


def _verify_in_workers(top: int, batch: int, workers: int, span: int | None) -> Verification:
    count = max(1, math.ceil(top / span)) if span else workers * SPANS_PER_WORKER
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_setup,
        initargs=(
            # The environment's, not settings.SETTINGS_MODULE: under override_settings that is None.
            os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE,
            connections["default"].settings_dict,
            os.getpid(),
        ),
    )
    try:
        futures = [pool.submit(_check_range, low, high, batch) for low, high in _bounds(top, count)]
        # Joined in seq order as they finish; a bad event stops the join at once.
        return _join((future.result() for future in futures), workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _parallel(workers: int) -> bool:
    connection = connections["default"]
    return workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block


def _short(digest: str | None) -> str:
    return "none" if not digest else digest[:16] + "..."


def check_head(
    *, last_seq: int, seq: int, digest: str, source: str
) -> tuple[str, int | None, int] | None:
    """A head (`seq`, `digest`) that `source` recorded, against a chain found intact up to
    `last_seq`: None when that event is still there with that hash, else the failure (message,
    id of the event at `seq` if any, the seq named). Since every hash covers the one before it,
    the head's hash vouches for all the events up to it."""
    if seq <= 0:
        return None
    if seq > last_seq:
        missing = seq - last_seq
        return (
            f"the chain ends at seq {last_seq} but {source} names seq {seq} "
            f"(hash {_short(digest)}): {missing} newest "
            f"{'event is' if missing == 1 else 'events are'} missing (cut off its end)",
            None,
            last_seq + 1,
        )
    found = _model()._default_manager.filter(seq=seq).values_list("id", "hash").first()
    if found is not None and found[1] == digest:
        return None
    return (
        f"seq {seq} has hash {_short(found and found[1])} but {source} names hash "
        f"{_short(digest)}: the chain was rewritten at or before seq {seq}",
        found[0] if found else None,
        seq,
    )


def audit_verify(
    *,
    batch: int = VERIFY_BATCH,
    unsealed_grace: timedelta = UNSEALED_GRACE,
    anchor: tuple[int, str] | None = None,
    head: ChainHead | None = None,
    now: datetime | None = None,
    workers: int = 1,
    span: int | None = None,
) -> Verification:
    """Check the whole chain; stop at the first bad event. `anchor` is a (seq, hash) an earlier
    verification saw, `head` one kept outside the database (moderation/audit/head.py): each must
    still be there with its hash, so cutting events off the end of the chain is noticed too.
    `workers` > 1 checks spans in that many processes (see the module's docstring); `span` sets
    the events per span there (tests), else each worker gets SPANS_PER_WORKER."""
    events = _model()._default_manager
    batch = max(1, batch)
    top = events.aggregate(top=Max("seq"))["top"] or 0
    if _parallel(workers) and top > 0:
        result = _verify_in_workers(top, batch, workers, span)
    else:
        result = _join([check_span(_rows(None, None, batch))], 1)
    if not result.ok:
        return result
    last_seq, prev, checked = result.last_seq, result.last_hash, result.checked

    def failed(message, bad_id, bad_seq):
        return Verification(
            False, checked, message, bad_id, bad_seq, last_seq, prev, result.workers
        )

    # The head kept outside the database first: whoever cut the chain may have cut the
    # database's record of its end too.
    known = [] if head is None else [(head.seq, head.hash, head.describe())]
    if anchor is not None:
        known.append((anchor[0], anchor[1], "the head an earlier verification recorded"))
    for seq, digest, source in known:
        cut = check_head(last_seq=last_seq, seq=seq, digest=digest, source=source)
        if cut is not None:
            return failed(*cut)
    cutoff = (now or timezone.now()) - unsealed_grace
    stale = (
        events.filter(seq__isnull=True, created_at__lt=cutoff).order_by("id").values("id").first()
    )
    if stale is not None:
        return failed(
            f"event id {stale['id']} is not sealed into the chain after "
            f"{int(unsealed_grace.total_seconds() // 60)} minutes",
            stale["id"],
            None,
        )
    result.message = f"{checked} events, chain intact"
    return result
