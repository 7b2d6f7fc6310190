"""Queue health for supervisors: each queue's backlog now, and its arrivals and decisions per
hour over the last 24 hours and 30 days.

What the figures mean:
- open, oldest waiting, SLA breaches: the shared counts (moderation/cases/queue_stats.py), at most
  QUEUE_COUNTS_MAX_AGE seconds old. A breach is an open case waiting strictly longer than its
  queue's `sla_minutes` (waiting counts from Case.waiting_since, as priority and SLAs do).
- claimed: cases under a live lease, read live (few rows, the `case_assigned` partial index).
- arrivals in an hour: cases that began waiting in the queue during that hour: new cases, and
  cases reopened, sent to senior review or appealed (each sets Case.waiting_since). The case row
  keeps only its latest arrival, so an hour is counted in the queue each case is in when the hour
  is recomputed; hours are recomputed until RECOMPUTE_HOURS after they began, then left as they
  are. A case that moves on within that window (say to senior review) is counted where it went,
  at the time it went, and not twice.
- decisions in an hour: decisions made in the queue that hour, sends to senior review included,
  read from the exposure log (accounts.ExposureEvent, kind "decision"), which records the queue
  the case was in when decided, with an index by time. A supervisor's correction after blind
  re-review is not queue work and is not counted.

The hourly figures live in QueueHour, rebuilt from indexed time ranges (never incremented by the
intake or decision paths, so no hot row on the current hour): by the periodic chain every five
minutes with Redis (moderation/periodic/services.py), by the page itself at most once a minute in the
embedded mode. `manage.py rollup_queue_hours --days 30` fills older hours (first install, or
after the workers were down longer than RECOMPUTE_HOURS).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from accounts.models import ExposureEvent
from moderation.cases.models import Case, Queue
from moderation.cases.queue_stats import queue_counts
from moderation.supervision.models import QueueHour

HOUR = timedelta(hours=1)
# The current hour and the two before it are rebuilt on each run: late commits and runs missed
# while a worker restarted are caught up; older hours are final.
RECOMPUTE_HOURS = 3
DAYS = 30
# Serialises rebuilds on PostgreSQL (two overlapping runs would both insert the same hours).
ADVISORY_LOCK = 0x5649_4701


def hour_floor(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def queue_hours_recompute(*, start: datetime, end: datetime) -> int:
    """Rebuild the QueueHour rows of the whole hours from `start`'s to the one before `end`'s
    (both rounded down to the hour) from the cases and the exposure log. Idempotent: running it
    twice on the same data leaves the same rows. Returns how many rows the range now has."""
    start, end = hour_floor(start), hour_floor(end)
    if end <= start:
        return 0
    with transaction.atomic(durable=True):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK])
        figures: dict[tuple[int, datetime], list[int]] = {}
        arrivals = (
            Case.objects.filter(waiting_since__gte=start, waiting_since__lt=end)
            .annotate(h=TruncHour("waiting_since"))
            .values("queue_id", "h")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in arrivals:
            figures.setdefault((row["queue_id"], row["h"]), [0, 0])[0] = row["n"]
        decisions = (
            ExposureEvent.objects.filter(
                kind=ExposureEvent.Kind.DECISION, at__gte=start, at__lt=end
            )
            .annotate(h=TruncHour("at"))
            .values("queue_id", "h")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in decisions:
            figures.setdefault((row["queue_id"], row["h"]), [0, 0])[1] = row["n"]
        QueueHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        QueueHour.objects.bulk_create(
            QueueHour(queue_id=q, hour=h, arrivals=a, decisions=d)
            for (q, h), (a, d) in figures.items()
        )
    return len(figures)


def queue_hours_refresh(*, now: datetime | None = None) -> int:
    """Rebuild the last RECOMPUTE_HOURS hours, the current one included."""
    current = hour_floor(now or timezone.now())
    return queue_hours_recompute(start=current - (RECOMPUTE_HOURS - 1) * HOUR, end=current + HOUR)


@dataclass
class QueueHealth:
    queue: Queue
    open: int
    claimed: int
    oldest_waiting: datetime | None
    breaches: int
    # (start of the hour, arrivals, decisions), oldest first: 24 hours, the current one last.
    hours: list[tuple[datetime, int, int]]
    # (day, arrivals, decisions), oldest first: DAYS days, today last.
    days: list[tuple[date, int, int]]

    @property
    def arrivals_per_hour(self) -> float:
        return sum(a for _, a, _ in self.hours) / len(self.hours)

    @property
    def decisions_per_hour(self) -> float:
        return sum(d for _, _, d in self.hours) / len(self.hours)


@dataclass
class Health:
    queues: list[QueueHealth]
    counts_taken_at: datetime
    now: datetime


def queue_health(*, now: datetime | None = None) -> Health:
    """Every active queue (and any inactive one still holding open cases) with its figures.

    At most six queries whatever the backlog: the queues, the live claims, the last day's and
    the last month's rollup rows, and the shared counts when they are due for a refresh.
    """
    now = now or timezone.now()
    counts = queue_counts()
    queues = list(
        Queue.objects.filter(Q(is_active=True) | Q(pk__in=list(counts.by_queue))).order_by(
            "order", "slug"
        )
    )
    claimed = dict(
        Case.objects.filter(
            status=Case.Status.OPEN, assignee__isnull=False, lease_expires_at__gt=now
        )
        .values("queue_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("queue_id", "n")
    )
    current = hour_floor(now)
    hour_starts = [current - i * HOUR for i in range(23, -1, -1)]
    by_hour = {
        (q, h): (a, d)
        for q, h, a, d in QueueHour.objects.filter(hour__gte=hour_starts[0]).values_list(
            "queue_id", "hour", "arrivals", "decisions"
        )
    }
    today = current.date()
    day_list = [today - timedelta(days=i) for i in range(DAYS - 1, -1, -1)]
    first_day = datetime.combine(day_list[0], datetime.min.time(), tzinfo=UTC)
    by_day = {
        (r["queue_id"], r["day"]): (r["a"], r["d"])
        for r in QueueHour.objects.filter(hour__gte=first_day)
        .annotate(day=TruncDate("hour"))
        .values("queue_id", "day")
        .annotate(a=Sum("arrivals"), d=Sum("decisions"))
        .order_by()
    }
    rows = []
    for queue in queues:
        rows.append(
            QueueHealth(
                queue=queue,
                open=counts.open_count(queue.pk),
                claimed=claimed.get(queue.pk, 0),
                oldest_waiting=counts.oldest_waiting(queue.pk),
                breaches=counts.sla_breaches(queue.pk),
                hours=[(h, *by_hour.get((queue.pk, h), (0, 0))) for h in hour_starts],
                days=[(d, *by_day.get((queue.pk, d), (0, 0))) for d in day_list],
            )
        )
    return Health(queues=rows, counts_taken_at=counts.taken_at, now=now)
