"""Near-duplicates decided differently: the same picture (one cluster) found CSAM in one case and
no violation, or a lesser violation, in another. A conflict is shown on the case, on the
cluster decision's confirmation and on the supervisors' disagreements page, so a person settles it
instead of the platform acting two ways on one image.

Each decided case counts with its standing decision (its latest, referrals aside), read as a
verdict: CSAM (classified A1-B2), a violation, or none. A cluster whose decided cases hold more
than one verdict is in conflict.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from moderation.cases.models import Case
from moderation.decisions.models import Decision
from reports.models import Media

CSAM, VIOLATION, NONE = "csam", "violation", "no_violation"
VERDICT_LABELS = {
    CSAM: "CSAM (classified A1–B2)",
    VIOLATION: "a violation, not classified as CSAM",
    NONE: "no violation",
}
# The supervisors' list looks at clusters touched by decisions this recent, at most this many.
RECENT = timedelta(days=30)
MAX_CLUSTERS = 2000


def verdict(decision: Decision) -> str:
    if decision.classification:
        return CSAM
    return NONE if decision.action == Decision.Action.NO_VIOLATION else VIOLATION


@dataclass
class Conflict:
    cluster_id: int
    # verdict -> [(case id, decision)], each verdict's cases oldest first
    verdicts: dict[str, list[tuple[int, Decision]]] = field(default_factory=dict)

    @property
    def summary(self) -> list[tuple[str, list[int]]]:
        """(verdict in words, case ids) for each verdict, CSAM first."""
        order = [CSAM, VIOLATION, NONE]
        return [
            (VERDICT_LABELS[v], [case_id for case_id, _ in self.verdicts[v]])
            for v in order
            if v in self.verdicts
        ]

    @property
    def case_ids(self) -> list[int]:
        return sorted(case_id for cases in self.verdicts.values() for case_id, _ in cases)


def cluster_conflicts(cluster_ids) -> list[Conflict]:
    """The clusters among `cluster_ids` whose decided cases disagree. Three queries."""
    pairs = set(
        Media.objects.filter(cluster_id__in=list(cluster_ids))
        .annotate(owning_case=Coalesce("report__case_id", "flag__case_id"))
        .values_list("cluster_id", "owning_case")
    )
    case_ids = {case_id for _, case_id in pairs}
    standing: dict[int, Decision] = {}
    for decision in (
        Decision.objects.filter(case_id__in=case_ids, case__status=Case.Status.DECIDED)
        .exclude(action=Decision.Action.SENIOR_REVIEW)
        .select_related("reviewer")
        .order_by("case_id", "-created_at", "-pk")
    ):
        standing.setdefault(decision.case_id, decision)
    by_cluster: dict[int, Conflict] = {}
    for cluster_id, case_id in sorted(pairs):
        decision = standing.get(case_id)
        if decision is None:
            continue
        conflict = by_cluster.setdefault(cluster_id, Conflict(cluster_id))
        conflict.verdicts.setdefault(verdict(decision), []).append((case_id, decision))
    return [c for c in by_cluster.values() if len(c.verdicts) > 1]


def case_conflicts(case: Case) -> list[Conflict]:
    """Conflicts in the clusters of this case's media."""
    clusters = (
        Media.objects.filter(Q(report__case=case) | Q(flag__case=case))
        .exclude(cluster__isnull=True)
        .values_list("cluster_id", flat=True)
        .distinct()
    )
    return cluster_conflicts(list(clusters))


def recent_conflicts(*, now=None, limit: int = 50) -> list[Conflict]:
    """Conflicts among clusters whose cases were decided in the last RECENT, newest clusters
    first (bounded: at most MAX_CLUSTERS clusters are looked at)."""
    since = (now or timezone.now()) - RECENT
    clusters = list(
        Media.objects.filter(cluster__isnull=False)
        .filter(Q(report__case__decided_at__gte=since) | Q(flag__case__decided_at__gte=since))
        .order_by("-cluster_id")
        .values_list("cluster_id", flat=True)
        .distinct()[:MAX_CLUSTERS]
    )
    conflicts = cluster_conflicts(clusters)
    conflicts.sort(key=lambda c: -c.cluster_id)
    return conflicts[:limit]
