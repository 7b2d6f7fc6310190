"""The research export: an anonymised, k-anonymous table of the cases opened in a period.

What a row is: a group of cases that share every column below, with how many cases it holds
(`cases`). Every column counts as a quasi-identifier (anything published might be matched against
something known outside Vigil), so grouping on all of them and publishing only groups of at least
k cases (settings.VIGIL_RESEARCH_MIN_GROUP) makes each published case indistinguishable from at
least k-1 others. Smaller groups are suppressed whole: none of their values is published, only how
many cases were suppressed in total. Nothing is ever published at a finer or a coarser grain for
the same period, so suppressed groups cannot be recovered by differencing two views.

Nothing personal is read: no owner, reporter or reviewer, no URL, id, handle, IP, free text or
media. Times are bucketed: the case's opening to the Monday (UTC) of its ISO week; the time to its
first action to one of TIME_BUCKETS. Grouping and suppression run in the database (GROUP BY ...
HAVING COUNT >= k), so the export streams a bounded number of rows whatever the period.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models import Case as Choose
from django.db.models.functions import Coalesce, TruncWeek

from moderation.enforcement import EnforcementAction
from moderation.escalation_models import Escalation
from moderation.models import Case, Decision
from moderation.quality import Appeal
from moderation.transparency import detection_source, first_action_at

# Upper bounds of the time-to-first-action buckets, and their labels.
TIME_BUCKETS = [
    (timedelta(hours=1), "under_1h"),
    (timedelta(hours=24), "1h_to_24h"),
    (timedelta(days=7), "1d_to_7d"),
]
OVER_LAST_BUCKET, NOT_ACTED = "over_7d", "not_acted"

COLUMNS = [
    "week",
    "category",
    "involves_child",
    "content_type",
    "detection_source",
    "report_count",
    "time_to_first_action",
    "outcome",
    "escalated",
    "appeal",
]


def min_group() -> int:
    return max(1, int(settings.VIGIL_RESEARCH_MIN_GROUP))


def _reports_bucket():
    # An exact count of reports could single out a much-reported case; buckets cannot.
    return Choose(
        When(reports_count=0, then=Value("0")),
        When(reports_count=1, then=Value("1")),
        When(reports_count__lte=5, then=Value("2-5")),
        default=Value("6+"),
        output_field=CharField(),
    )


def _time_bucket():
    whens = [
        When(first_action__lt=F("created_at") + bound, then=Value(label))
        for bound, label in TIME_BUCKETS
    ]
    return Choose(
        When(first_action__isnull=True, then=Value(NOT_ACTED)),
        *whens,
        default=Value(OVER_LAST_BUCKET),
        output_field=CharField(),
    )


def _outcome():
    """The case's latest decision's action; "automated_action" when only a bank acted."""
    latest = Decision.objects.filter(case=OuterRef("pk")).order_by("-created_at", "-id")
    automated = EnforcementAction.objects.filter(case=OuterRef("pk"), decision__isnull=True)
    return Coalesce(
        Subquery(latest.values("action")[:1]),
        Choose(
            When(Exists(automated), then=Value("automated_action")),
            default=Value("no_decision"),
            output_field=CharField(),
        ),
        output_field=CharField(),
    )


def _appeal():
    latest = Appeal.objects.filter(case=OuterRef("pk")).order_by("-created_at", "-id")
    return Coalesce(Subquery(latest.values("status")[:1]), Value("none"), output_field=CharField())


def _grouped(*, since: datetime, until: datetime):
    submitted = Escalation.objects.filter(cases=OuterRef("pk"), submitted_at__isnull=False)
    return (
        Case.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(
            week=TruncWeek("created_at"),
            content_type=F("content_item__type"),
            detection_source=detection_source(),
            report_count=_reports_bucket(),
            first_action=first_action_at(),
        )
        .annotate(
            time_to_first_action=_time_bucket(),
            outcome=_outcome(),
            escalated=Exists(submitted, output_field=BooleanField()),
            appeal=_appeal(),
        )
        .values(*COLUMNS)
        .annotate(cases=Count("pk"))
    )


@dataclass
class Export:
    since: datetime
    until: datetime
    k: int
    groups: int
    cases: int
    suppressed: int
    queryset: object

    def iter_rows(self, chunk: int = 500):
        """Published groups as dicts, in a stable order, read `chunk` at a time."""
        if self.since >= self.until:
            return
        for row in self.queryset.order_by(*COLUMNS).iterator(chunk_size=chunk):
            yield {**row, "week": _day(row["week"]), "escalated": bool(row["escalated"])}


def _day(value) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value)[:10]


def research_export(*, since: datetime, until: datetime, k: int | None = None) -> Export:
    """The export for [since, until): what it will publish, and how much it suppresses."""
    k = min_group() if k is None else k
    if since >= until:
        return Export(since, until, k, 0, 0, 0, Case.objects.none())
    grouped = _grouped(since=since, until=until)
    published = grouped.filter(cases__gte=k)
    total = Case.objects.filter(created_at__gte=since, created_at__lt=until).count()
    # Django cannot aggregate over a grouped, HAVING-filtered queryset: count the published
    # groups and their cases around its SQL, still in one query in the database.
    sql, params = published.query.sql_with_params()
    with connection.cursor() as cursor:
        # `sql` is the ORM's own compiled query; every value is in `params`.
        outer = f"SELECT COUNT(*), COALESCE(SUM(g.cases), 0) FROM ({sql}) g"  # noqa: S608
        cursor.execute(outer, params)
        groups, cases = (int(v) for v in cursor.fetchone())
    return Export(
        since=since,
        until=until,
        k=k,
        groups=groups,
        cases=cases,
        suppressed=total - cases,
        queryset=published,
    )
