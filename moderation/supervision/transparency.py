"""Transparency report figures for a period: every figure is one aggregate query (GROUP BY in the
database), so the report costs the same dozen queries at a thousand cases or ten million.

Definitions (docs/transparency.md says the same for readers of the report):
- Period: [since, until), UTC, chosen as whole days.
- Signals received: reports (by source: public form / platform API, and by reporter kind) and
  automated flags created in the period; hash matches are media files that matched a bank entry in
  the period (distinct files, however many entries each matched).
- Detection source of a case (shared with the research export): "hash_match" when a bank matched
  any of its media, else "automated_flag" when a classifier flagged it, else "user_report".
  A case detected automatically is one whose detection source is not "user_report".
- Actions: reviewer decisions made in the period by action, and enforcement actions Vigil asked the
  platform for in the period by kind, split into reviewer-requested and automated (a bank acting
  with no reviewer).
- Time to action: from the case's opening (its first report or flag) to its first action (its
  first decision, or a bank's automated action if that came first: Case.first_action_at, kept by
  the services that write them), for cases whose first action falls in the period. The median is
  read in the database (ORDER BY with OFFSET), not in Python.
- Escalations: reports submitted to an authority in the period (and the cases they carry), and
  escalations opened in the period by their current status.
- Appeals: lodged in the period; decided in the period by outcome; enforcement actions reversed in
  the period by what prompted the reversal.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    Case as Choose,
)
from django.db.models import (
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from moderation.banks.models import Match
from moderation.cases.models import Case
from moderation.decisions.models import Appeal, Decision
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from reports.categories import Category
from reports.models import Flag, Report

USER_REPORT, AUTOMATED_FLAG, HASH_MATCH = "user_report", "automated_flag", "hash_match"
DETECTION_SOURCES = {
    USER_REPORT: "User report",
    AUTOMATED_FLAG: "Automated flag (classifier)",
    HASH_MATCH: "Hash match (bank)",
}


def detection_source():
    """The case's detection source as a database expression (see the module docstring)."""
    return Choose(
        When(bank_match_level__gt=0, then=Value(HASH_MATCH)),
        When(flags_count__gt=0, then=Value(AUTOMATED_FLAG)),
        default=Value(USER_REPORT),
        output_field=CharField(),
    )


@dataclass
class Figures:
    since: datetime
    until: datetime
    reports_by_source: dict = field(default_factory=dict)
    reports_by_reporter_kind: dict = field(default_factory=dict)
    flags: int = 0
    hash_matches: int = 0
    signals_by_category: dict = field(default_factory=dict)
    cases_opened: int = 0
    cases_by_detection: dict = field(default_factory=dict)
    decisions_by_action: dict = field(default_factory=dict)
    actions_by_kind: dict = field(default_factory=dict)
    actions_reviewer: int = 0
    actions_automated: int = 0
    acted_cases: int = 0
    median_seconds_to_action: float | None = None
    escalations_submitted: int = 0
    escalated_cases: int = 0
    escalations_opened_by_status: dict = field(default_factory=dict)
    appeals_lodged: int = 0
    appeals_decided: dict = field(default_factory=dict)
    actions_reversed: dict = field(default_factory=dict)

    @property
    def user_reports(self) -> int:
        return sum(self.reports_by_source.values())

    @property
    def automated_share(self) -> float | None:
        """Share of the cases opened in the period that were detected automatically."""
        if not self.cases_opened:
            return None
        automated = self.cases_by_detection.get(AUTOMATED_FLAG, 0)
        automated += self.cases_by_detection.get(HASH_MATCH, 0)
        return automated / self.cases_opened

    def as_dict(self) -> dict:
        share = self.automated_share
        return {
            "period": {"from": self.since.isoformat(), "until": self.until.isoformat()},
            "signals_received": {
                "user_reports": {"total": self.user_reports, "by_source": self.reports_by_source},
                "user_reports_by_reporter_kind": self.reports_by_reporter_kind,
                "automated_flags": self.flags,
                "hash_matches": self.hash_matches,
                "by_category": self.signals_by_category,
            },
            "cases_opened": {"total": self.cases_opened, "by_detection": self.cases_by_detection},
            "automated_detection_share": None if share is None else round(share, 4),
            "decisions_by_action": self.decisions_by_action,
            "enforcement_actions": {
                "by_kind": self.actions_by_kind,
                "requested_by_reviewers": self.actions_reviewer,
                "automated": self.actions_automated,
            },
            "time_to_action": {
                "cases_first_acted_on": self.acted_cases,
                "median_seconds": self.median_seconds_to_action,
            },
            "escalations": {
                "submitted": self.escalations_submitted,
                "cases_submitted": self.escalated_cases,
                "opened_by_status": self.escalations_opened_by_status,
            },
            "appeals": {
                "lodged": self.appeals_lodged,
                "decided": self.appeals_decided,
            },
            "actions_reversed": self.actions_reversed,
        }

    def rows(self) -> list[tuple[str, str, object]]:
        """The same figures flattened to (section, key, value) for the CSV."""
        out = []

        def walk(prefix, value):
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}.{key}" if prefix else key, inner)
            else:
                section, _, key = prefix.rpartition(".")
                out.append((section, key, "" if value is None else value))

        walk("", self.as_dict())
        return out


def _counts(queryset, key: str, choices=None) -> dict:
    counts = {row[key]: row["n"] for row in queryset.values(key).annotate(n=Count("pk"))}
    if choices is None:
        return dict(sorted(counts.items()))
    # Every choice listed, zeros included, so CSV and JSON keep one shape from period to period.
    return {value: counts.get(value, 0) for value in choices.values} | {
        k: v for k, v in counts.items() if k not in choices.values
    }


def _median_seconds(queryset) -> tuple[int, float | None]:
    """Count and median of `queryset`'s `waited` durations, read in the database."""
    n = queryset.count()
    if not n:
        return 0, None
    ordered = queryset.order_by("waited").values_list("waited", flat=True)
    middle = list(ordered[(n - 1) // 2 : n // 2 + 1])
    seconds = [d.total_seconds() if isinstance(d, timedelta) else d / 1e6 for d in middle]
    return n, sum(seconds) / len(seconds)


@contextmanager
def no_jit():
    """No PostgreSQL JIT for these queries: correlated per-case subqueries (the research export's
    latest decision and appeal; the report's first action before Case.first_action_at) make the
    planner estimate them dear, so it compiles them, and compiling took 1.6 s of a 1.7 s query
    that reads each case's few rows through the case_id index (bench/transparency.py)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


def transparency_figures(*, since: datetime, until: datetime) -> Figures:
    figures = Figures(since=since, until=until)
    if since >= until:
        return figures
    with no_jit():
        return _fill(figures, since, until)


def _fill(figures: Figures, since: datetime, until: datetime) -> Figures:
    period = {"created_at__gte": since, "created_at__lt": until}

    reports = Report.objects.filter(**period)
    figures.reports_by_source = _counts(reports, "source", Report.Source)
    figures.reports_by_reporter_kind = _counts(reports, "reporter_kind", Report.ReporterKind)
    flags = Flag.objects.filter(**period)
    matches = Match.objects.filter(matched_at__gte=since, matched_at__lt=until)
    by_category = {
        c: {"user_reports": 0, "automated_flags": 0, "hash_matches": 0} for c in Category
    }
    for row in reports.values("category").annotate(n=Count("pk")):
        by_category.setdefault(row["category"], {})["user_reports"] = row["n"]
    for row in flags.values("category").annotate(n=Count("pk")):
        by_category.setdefault(row["category"], {})["automated_flags"] = row["n"]
    # A matched file belongs to a report or a flag; its category is theirs.
    matched = matches.annotate(
        category=Coalesce("media__report__category", "media__flag__category")
    )
    for row in matched.values("category").annotate(n=Count("media", distinct=True)):
        by_category.setdefault(row["category"], {})["hash_matches"] = row["n"]
    figures.signals_by_category = {str(k): v for k, v in by_category.items()}
    figures.flags = sum(v.get("automated_flags", 0) for v in by_category.values())
    figures.hash_matches = matches.aggregate(n=Count("media", distinct=True))["n"]

    cases = Case.objects.filter(**period).annotate(detection=detection_source())
    figures.cases_by_detection = {key: 0 for key in DETECTION_SOURCES} | _counts(cases, "detection")
    figures.cases_opened = sum(figures.cases_by_detection.values())

    figures.decisions_by_action = _counts(
        Decision.objects.filter(**period), "action", Decision.Action
    )
    actions = EnforcementAction.objects.filter(**period)
    figures.actions_by_kind = _counts(actions, "kind", EnforcementAction.Kind)
    split = actions.aggregate(
        automated=Count("pk", filter=Q(decision__isnull=True)),
        reviewer=Count("pk", filter=Q(decision__isnull=False)),
    )
    figures.actions_automated, figures.actions_reviewer = split["automated"], split["reviewer"]

    acted = Case.objects.filter(first_action_at__gte=since, first_action_at__lt=until).annotate(
        waited=ExpressionWrapper(F("first_action_at") - F("created_at"), DurationField())
    )
    figures.acted_cases, figures.median_seconds_to_action = _median_seconds(acted)

    submitted = Escalation.objects.filter(submitted_at__gte=since, submitted_at__lt=until)
    totals = submitted.aggregate(n=Count("pk", distinct=True), cases=Count("cases", distinct=True))
    figures.escalations_submitted, figures.escalated_cases = totals["n"], totals["cases"]
    figures.escalations_opened_by_status = _counts(
        Escalation.objects.filter(**period), "status", Escalation.Status
    )

    figures.appeals_lodged = Appeal.objects.filter(**period).count()
    decided = Appeal.objects.filter(decided_at__gte=since, decided_at__lt=until)
    figures.appeals_decided = {
        s: 0 for s in Appeal.Status.values if s != Appeal.Status.OPEN
    } | _counts(decided.exclude(status=Appeal.Status.OPEN), "status")
    reversed_ = EnforcementAction.objects.filter(reversed_at__gte=since, reversed_at__lt=until)
    by_source = _counts(reversed_, "reversal_source")
    figures.actions_reversed = {
        "total": sum(by_source.values()),
        "by_source": {(k or "unspecified"): v for k, v in by_source.items()},
    }
    return figures
