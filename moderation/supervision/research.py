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
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models import Case as Choose
from django.db.models.functions import Coalesce, TruncWeek

from moderation.cases.models import Case
from moderation.decisions.models import Appeal, Decision
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from moderation.supervision.transparency import detection_source, no_jit

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


def _cases(*, since: datetime, until: datetime):
    """One row per case opened in [since, until): every column but the time bucket, and
    `waited` (first action minus opening) to bucket it from, computed once per case."""
    submitted = Escalation.objects.filter(cases=OuterRef("pk"), submitted_at__isnull=False)
    return (
        Case.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(
            week=TruncWeek("created_at"),
            content_type=F("content_item__type"),
            detection_source=detection_source(),
            report_count=_reports_bucket(),
            waited=ExpressionWrapper(F("first_action_at") - F("created_at"), DurationField()),
            outcome=_outcome(),
            escalated=Exists(submitted, output_field=BooleanField()),
            appeal=_appeal(),
        )
        .values(*[c for c in COLUMNS if c != "time_to_first_action"], "waited")
    )


def _grouped_sql(*, since: datetime, until: datetime, k: int) -> tuple[str, list]:
    """GROUP BY every column, HAVING at least k cases, around the per-case query. Written out
    because the ORM would repeat the first-action subqueries in each bucket's comparison."""
    inner, params = _cases(since=since, until=until).query.sql_with_params()
    field = DurationField()
    bounds = [field.get_db_prep_value(bound, connection) for bound, _ in TIME_BUCKETS]
    whens = " ".join(f"WHEN s.waited < %s THEN '{label}'" for _, label in TIME_BUCKETS)
    bucket = f"CASE WHEN s.waited IS NULL THEN '{NOT_ACTED}' {whens} ELSE '{OVER_LAST_BUCKET}' END"
    columns = [bucket if c == "time_to_first_action" else f"s.{c}" for c in COLUMNS]
    positions = ", ".join(str(i + 1) for i in range(len(COLUMNS)))
    # Every value is a parameter; the SQL around them is this module's own text.
    sql = (
        f"SELECT {', '.join(columns)}, COUNT(*) FROM ({inner}) s "  # noqa: S608
        f"GROUP BY {positions} HAVING COUNT(*) >= %s ORDER BY {positions}"
    )
    return sql, [*bounds, *params, k]


@dataclass
class Export:
    since: datetime
    until: datetime
    k: int
    cases: int
    suppressed: int
    rows: list

    @property
    def groups(self) -> int:
        return len(self.rows)

    def iter_rows(self):
        """Published groups as dicts, in a stable order."""
        for values in self.rows:
            row = dict(zip([*COLUMNS, "cases"], values, strict=True))
            row["week"] = _day(row["week"])
            row["involves_child"] = bool(row["involves_child"])
            row["escalated"] = bool(row["escalated"])
            yield row


def _day(value) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value)[:10]


def whole_weeks(since: datetime, until: datetime, now: datetime) -> tuple[datetime, datetime]:
    """[since, until) widened to whole ISO weeks (Monday 00:00 UTC), without the week under way.

    Every group lies within one week (`week` is a column), so an export of any set of whole,
    ended weeks publishes exactly the groups each week publishes on its own: two exports of
    overlapping periods cannot be subtracted to reveal a suppressed group, as they could if a
    period could end mid-week (export Monday to Tuesday, then to Wednesday, and the difference
    is Wednesday's cases). Leaving out the week under way does the same for "until now"."""

    def monday(moment: datetime) -> datetime:
        day = moment.astimezone(UTC).date()
        return datetime.combine(day - timedelta(days=day.weekday()), time.min, tzinfo=UTC)

    start = monday(since)
    end = monday(until - timedelta(microseconds=1)) + timedelta(days=7)
    return start, min(end, monday(now))


def research_export(*, since: datetime, until: datetime, k: int | None = None) -> Export:
    """The export for [since, until): the published groups, and how many cases it suppresses.

    The groups are read in one query and held: each holds at least k cases, so there are at
    most (cases in the period) / k of them, and the audit record needs their totals before the
    first byte goes out."""
    k = min_group() if k is None else k
    if since >= until:
        return Export(since, until, k, 0, 0, [])
    total = Case.objects.filter(created_at__gte=since, created_at__lt=until).count()
    sql, params = _grouped_sql(since=since, until=until, k=k)
    with no_jit(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    cases = sum(int(row[-1]) for row in rows)
    return Export(since, until, k, cases, total - cases, [(*r[:-1], int(r[-1])) for r in rows])
