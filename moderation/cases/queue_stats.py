"""Per-queue open counts, oldest waiting times and SLA breaches, shared by every dashboard load.

Counting open cases means reading every open case's index entry: ~1 ms per 10,000 cases, so at a
million open cases a dashboard that counted on every load would spend most of its time counting
the same rows again. Instead one grouped query computes every queue's figures at once and the
result is shared through the cache for a few seconds; a reviewer sees counts at most
`QUEUE_COUNTS_MAX_AGE` seconds old, and the page says when they were taken. What must be exact
(which cases this reviewer holds, how many are being reviewed now) is read live: those rows are
few whatever the backlog, and found through a partial index.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
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

CACHE_KEY = "vigil:queue-counts:v2"
LOCK_KEY = "vigil:queue-counts:lock"
# How long a stale copy is still served while one process recomputes it.
KEEP_STALE_SECONDS = 600


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


def queue_counts() -> QueueCounts:
    """Counts at most QUEUE_COUNTS_MAX_AGE seconds old.

    When the shared copy is stale, one caller (whoever wins the lock) recomputes it and the others
    keep serving the stale copy meanwhile, so a busy dashboard never runs the count many times at
    once. With nothing cached at all (first load, cache restarted) the caller counts itself.
    """
    counts = cache.get(CACHE_KEY)
    if counts is None:
        return queue_counts_compute()
    age = (timezone.now() - counts.taken_at).total_seconds()
    if age >= settings.QUEUE_COUNTS_MAX_AGE and cache.add(LOCK_KEY, 1, timeout=30):
        try:
            return queue_counts_compute()
        finally:
            cache.delete(LOCK_KEY)
    return counts
