"""How well reviewers' decisions hold up, for supervisors: per reviewer, over a period.

Everything counts the reviewer's decisions made in the period (Decision.created_at), so the
figures describe one body of work: how many, how long each took, how many a blind re-review
agreed with, and how many were overturned on appeal (which may happen after the period ends).

Handling time is claim to decision: from the reviewer's latest "case.claimed" audit event on the
case at or before the decision (the claim service writes one every time it hands a case out) to
Decision.created_at. A decision with no such claim (applied to a whole cluster from another case)
is counted as a decision but has no handling time. The median, not the mean: one case left open
over lunch should not move the figure.

A fixed number of queries whatever the team's size: one over the period's decisions, one grouped
over their re-reviews, one over their appeals.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
)
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.decisions.models import Appeal, Decision, ReReview

PERIODS = [(7, "7 days"), (30, "30 days"), (90, "90 days")]
DEFAULT_DAYS = 30


@dataclass
class Quality:
    decisions: int = 0
    median_handling: timedelta | None = None
    # Re-reviews of the period's decisions: recorded (agreed or not), and agreed.
    rereviewed: int = 0
    agreed: int = 0
    rereviews_waiting: int = 0
    # Disagreements a supervisor settled for the re-review's decision.
    corrected: int = 0
    appealed: int = 0
    overturned: int = 0

    @property
    def agreement_rate(self) -> int | None:
        """Percent of recorded re-reviews that agreed (None when none was recorded)."""
        return round(100 * self.agreed / self.rereviewed) if self.rereviewed else None

    @property
    def median_minutes(self) -> float | None:
        if self.median_handling is None:
            return None
        return round(self.median_handling.total_seconds() / 60, 1)


class Median(Aggregate):
    """PostgreSQL's median (the 50th percentile, interpolated), ignoring NULLs."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def period_start(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def claimed_at():
    """For a query on decisions: when their reviewer last claimed the case before deciding."""
    return Subquery(
        AuditEvent.objects.filter(
            case_id=OuterRef("case_id"),
            verb="case.claimed",
            actor_id=OuterRef("reviewer_id"),
            created_at__lte=OuterRef("created_at"),
        )
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )


def reviewer_quality(user_ids, since: datetime) -> dict[int, Quality]:
    """Quality figures for each of `user_ids` over their decisions made since `since`."""
    stats = {pk: Quality() for pk in user_ids}
    decisions = Decision.objects.filter(reviewer_id__in=stats, created_at__gte=since).annotate(
        claimed_at=claimed_at()
    )
    if connection.vendor == "postgresql":
        # The median in the database: no row per decision comes back, however busy the team.
        handling = ExpressionWrapper(F("created_at") - F("claimed_at"), DurationField())
        for reviewer_id, n, middle in (
            decisions.order_by()
            .values("reviewer_id")
            .annotate(n=Count("pk"), middle=Median(handling))
            .values_list("reviewer_id", "n", "middle")
        ):
            stats[reviewer_id].decisions, stats[reviewer_id].median_handling = n, middle
    else:
        durations: dict[int, list[timedelta]] = {pk: [] for pk in stats}
        for reviewer_id, decided, claimed in decisions.order_by().values_list(
            "reviewer_id", "created_at", "claimed_at"
        ):
            stats[reviewer_id].decisions += 1
            if claimed is not None:
                durations[reviewer_id].append(decided - claimed)
        for pk, times in durations.items():
            if times:
                stats[pk].median_handling = median(times)

    recorded = ~Q(status=ReReview.Status.OPEN)
    for row in (
        ReReview.objects.filter(decision__reviewer_id__in=stats, decision__created_at__gte=since)
        .values("decision__reviewer_id")
        .annotate(
            rereviewed=Count("pk", filter=recorded),
            agreed=Count("pk", filter=Q(status=ReReview.Status.AGREED)),
            rereviews_waiting=Count("pk", filter=Q(status=ReReview.Status.OPEN)),
            corrected=Count(
                "pk",
                filter=Q(status=ReReview.Status.RESOLVED, stands=ReReview.Stands.REREVIEW),
            ),
        )
        .order_by()
    ):
        quality = stats[row.pop("decision__reviewer_id")]
        for name, value in row.items():
            setattr(quality, name, value)

    for row in (
        Appeal.objects.filter(decision__reviewer_id__in=stats, decision__created_at__gte=since)
        .values("decision__reviewer_id")
        .annotate(
            appealed=Count("pk"),
            overturned=Count("pk", filter=Q(status__in=Appeal.CHANGED)),
        )
        .order_by()
    ):
        quality = stats[row.pop("decision__reviewer_id")]
        quality.appealed, quality.overturned = row["appealed"], row["overturned"]
    return stats


def recent_decisions(user, since: datetime, limit: int = 50):
    """The reviewer's latest decisions in the period, with their re-review and appeal, for the
    per-reviewer page."""
    decisions = list(
        Decision.objects.filter(reviewer=user, created_at__gte=since)
        .select_related("case__queue", "rereview", "appeal")
        .annotate(claimed_at=claimed_at())
        .order_by("-created_at", "-pk")[:limit]
    )
    for d in decisions:
        d.handling_minutes = (
            round((d.created_at - d.claimed_at).total_seconds() / 60, 1) if d.claimed_at else None
        )
    return decisions
