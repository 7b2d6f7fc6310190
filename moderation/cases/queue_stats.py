"""Per-queue open counts, oldest waiting times and SLA breaches, shared by every dashboard load.

Counting open cases means reading every open case's index entry: ~1 ms per 10,000 cases, so at a
million open cases a dashboard that counted on every load would spend most of its time counting
the same rows again. Instead one grouped query computes every queue's figures at once and the
result is shared through the cache; the page says when they were taken. What must be exact
(which cases this reviewer holds, how many are being reviewed now) is read live: those rows are
few whatever the backlog, and found through a partial index.

No request waits for a recount it could do without. Once the shared copy is older than
`QUEUE_COUNTS_MAX_AGE` seconds, the first caller to take the lock serves it one last time and
recounts after its response has gone (Django's request_finished), the others go on serving it
meanwhile; outside a request (jobs, commands) that caller recounts at once. Only when there is no
copy at all (the cache emptied) does a request count: one of them, while the others wait for its
result rather than count the same rows again.
"""

import logging
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    Value,
)
from django.utils import timezone

from moderation.cases.models import Case

logger = logging.getLogger(__name__)

CACHE_KEY = "vigil:queue-counts:v2"
LOCK_KEY = "vigil:queue-counts:lock"
# How long the shared copy is kept. Past QUEUE_COUNTS_MAX_AGE it is served only while one caller
# recounts, so keeping it long costs nothing, and a quiet spell (a night without dashboard loads)
# does not leave the next morning's first loads with nothing to serve.
KEEP_STALE_SECONDS = 24 * 3600
# The recount lock's life: longer than any recount takes (under a second at 1M open cases), short
# of a web worker's timeout for whoever waits on it; if its holder dies, another may start.
LOCK_SECONDS = 15
# How often a caller with no copy to serve looks for the one another caller is counting.
WAIT_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class QueueCounts:
    taken_at: datetime
    # queue id -> (open cases, oldest waiting_since or None)
    by_queue: dict[int, tuple[int, datetime | None]]
    # queue id -> open cases waiting longer than the queue's sla_minutes at taken_at
    breaches: dict[int, int] = field(default_factory=dict)

    def open_count(self, queue_id: int) -> int:
        return self.by_queue.get(queue_id, (0, None))[0]

    def oldest_waiting(self, queue_id: int) -> datetime | None:
        return self.by_queue.get(queue_id, (0, None))[1]

    def sla_breaches(self, queue_id: int) -> int:
        return self.breaches.get(queue_id, 0)


def queue_counts_compute() -> QueueCounts:
    """Count every queue's open cases and SLA breaches now (one query) and share the result."""
    now = timezone.now()
    # Breached: waiting strictly longer than the queue's SLA, counted in the same scan as the
    # open count (the queue row is joined, not read first).
    if connection.vendor == "postgresql":
        sla = F("queue__sla_minutes") * Value(timedelta(minutes=1))
    else:
        # SQLite keeps durations as microseconds and has no interval arithmetic.
        sla = ExpressionWrapper(
            F("queue__sla_minutes") * Value(60_000_000), output_field=DurationField()
        )
    cutoff = ExpressionWrapper(Value(now) - sla, output_field=DateTimeField())
    late = Q(waiting_since__lt=cutoff)
    rows = (
        Case.objects.filter(status=Case.Status.OPEN)
        .values("queue_id")
        .annotate(n=Count("id"), oldest=Min("waiting_since"), late=Count("id", filter=late))
        .order_by()
    )
    counts = QueueCounts(
        taken_at=now,
        by_queue={row["queue_id"]: (row["n"], row["oldest"]) for row in rows},
        breaches={row["queue_id"]: row["late"] for row in rows},
    )
    cache.set(CACHE_KEY, counts, KEEP_STALE_SECONDS)
    return counts


# Within a request: the lock's token if this request took the recount, to do once its response
# has gone; "" if not. None outside a request.
_recount_due: ContextVar[str | None] = ContextVar("vigil_queue_recount_due", default=None)


def _request_begins(**kwargs) -> None:
    _recount_due.set("")


def _request_ends(**kwargs) -> None:
    token = _recount_due.get()
    _recount_due.set(None)
    if token:
        _recount(token)


request_started.connect(_request_begins, dispatch_uid="vigil-queue-counts-begin")
request_finished.connect(_request_ends, dispatch_uid="vigil-queue-counts-end")


def _take_lock() -> str | None:
    token = secrets.token_hex(8)
    return token if cache.add(LOCK_KEY, token, timeout=LOCK_SECONDS) else None


def _release_lock(token: str) -> None:
    # Only our own: past LOCK_SECONDS another caller may hold it now.
    if cache.get(LOCK_KEY) == token:
        cache.delete(LOCK_KEY)


def _recount(token: str) -> QueueCounts | None:
    """Recount under the lock the caller took (`token`), and release it."""
    try:
        return queue_counts_compute()
    except Exception:
        # The stale copy stays; the next caller past the limit tries again.
        logger.exception("could not recount the queues' open cases")
        return None
    finally:
        _release_lock(token)


def _first_counts() -> QueueCounts:
    """Nothing shared yet: one caller counts, the others wait for its result.

    A waiting caller takes over if the counter gives up (its lock is released, or runs out after
    LOCK_SECONDS if its process died), so nobody waits for ever."""
    while True:
        if token := _take_lock():
            try:
                # Another caller may have shared a copy just before this one took the lock.
                counts = cache.get(CACHE_KEY)
                return counts if counts is not None else queue_counts_compute()
            finally:
                _release_lock(token)
        time.sleep(WAIT_POLL_SECONDS)
        counts = cache.get(CACHE_KEY)
        if counts is not None:
            return counts


def queue_counts() -> QueueCounts:
    """The shared counts (see the module's note for how fresh, and who recounts when)."""
    counts = cache.get(CACHE_KEY)
    if counts is None:
        return _first_counts()
    age = (timezone.now() - counts.taken_at).total_seconds()
    if age >= settings.QUEUE_COUNTS_MAX_AGE and (token := _take_lock()):
        if _recount_due.get() is None:
            return _recount(token) or counts
        _recount_due.set(token)
    return counts
