"""Queues and cases: what waits, where, in what order and who holds it, and the priority weights
that order it."""

from types import MappingProxyType

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from moderation.cases.priority import DEFAULT_WEIGHTS, Weights
from moderation.cases.route_rules import (
    language_matches,
    normalise_language,
    source_matches,
    source_rule_error,
)
from reports.categories import Category

# Queue flags that mean "reached only by a person's action, never by routing". Routing skips these
# queues and never moves a case out of one. Add a flag here and routing honours it everywhere.
PEOPLE_ONLY_FLAGS = ("senior_only", "for_appeals")


class QueueQuerySet(models.QuerySet):
    def routable(self):
        """Active queues routing may put a case in, in rule order."""
        return self.filter(is_active=True, **{flag: False for flag in PEOPLE_ONLY_FLAGS}).order_by(
            "order", "slug"
        )


class Queue(models.Model):
    """A queue of cases, filled by routing rules and worked by reviewers certified for it.

    Rules are tried in `order` (lowest first); the first routable queue all of whose rules match a
    case takes it. An empty rule matches everything (moderation/cases/routing.py).
    """

    class BankRule(models.TextChoices):
        ANY_OR_NONE = "", "Any case, matched or not"
        ANY_BANK = "any", "Cases with a match in any bank"
        KNOWN_MATERIAL = (
            "known_material",
            "Known material: a match in a known-material bank, or classified A1–B2 by a decision",
        )
        LISTED = "listed", "Cases with a match in one of the banks listed below"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(
        default=100,
        help_text="Routing tries queues lowest order first; the first whose rules all match "
        "takes the case.",
    )
    categories = models.JSONField(
        default=list, blank=True, help_text="Only these categories; none ticked: every category."
    )
    involves_child = models.BooleanField(
        null=True,
        blank=True,
        help_text="Only cases reported as involving a child (yes), only those not (no), or either.",
    )
    sources = models.JSONField(
        default=list,
        blank=True,
        help_text="Only cases with a report or flag from one of these sources; empty: any source.",
    )
    languages = models.JSONField(
        default=list,
        blank=True,
        help_text="Only content in these languages (BCP 47); empty: any language, or none known.",
    )
    bank_rule = models.CharField(max_length=20, choices=BankRule, blank=True, default="")
    banks = models.ManyToManyField(
        "moderation.HashBank",
        blank=True,
        related_name="routed_queues",
        help_text="For the rule 'a match in one of the banks listed'.",
    )
    sla_minutes = models.PositiveIntegerField(default=24 * 60)
    is_active = models.BooleanField(default=True)
    # Worked only by senior reviewers; routing never moves a case into or out of it.
    senior_only = models.BooleanField(default=False)
    # The appeals queue: reached only by an owner's appeal; routing never moves a case in or out.
    for_appeals = models.BooleanField(default=False)
    # Holds material that weighs on reviewers (child safety, self-reports): decisions here count
    # towards a reviewer's exposure, and a supervisor can pause a reviewer's access to it.
    sensitive = models.BooleanField(default=False)
    # What every decision made in this queue must carry beyond its category's needs
    # (moderation/review/rules.py: "notes", "intent", "classification").
    required_fields = models.JSONField(default=list, blank=True)

    objects = QueueQuerySet.as_manager()

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if not isinstance(self.categories, list) or any(
            c not in Category.values for c in self.categories
        ):
            errors["categories"] = f"A list of categories from: {', '.join(Category.values)}."
        if not isinstance(self.sources, list) or not all(isinstance(s, str) for s in self.sources):
            errors["sources"] = "A list of sources."
        else:
            bad = [e for e in map(source_rule_error, self.sources) if e]
            if bad:
                errors["sources"] = bad
        if not isinstance(self.languages, list) or not all(
            isinstance(t, str) for t in self.languages
        ):
            errors["languages"] = "A list of BCP 47 language tags."
        else:
            try:
                self.languages = [normalise_language(t) for t in self.languages]
            except ValueError as e:
                errors["languages"] = str(e)
        if errors:
            raise ValidationError(errors)

    @property
    def routable(self) -> bool:
        """Routing may move cases into and out of this queue."""
        return not any(getattr(self, flag) for flag in PEOPLE_ONLY_FLAGS)

    def holds_cases(self, *, reopened: bool = False) -> bool:
        """Whether routing must leave a case in this queue. People-only queues hold their cases,
        except that an appeal ends with its decision: a decided case reopened from the appeals
        queue by a new report is routed afresh."""
        if self.for_appeals and reopened:
            return False
        return not self.routable

    def matches(self, route, bank_ids=None) -> bool:
        """Whether a case with these routing inputs (moderation.cases.route_rules.RouteInput) belongs here.
        `bank_ids`: the ids of the banks this queue lists (for the 'listed' rule)."""
        if self.categories and route.category not in self.categories:
            return False
        if self.involves_child is not None and self.involves_child != route.involves_child:
            return False
        if self.sources and not source_matches(self.sources, route.sources):
            return False
        if self.languages and not language_matches(self.languages, route.language):
            return False
        if self.bank_rule == self.BankRule.ANY_BANK:
            return bool(route.bank_ids)
        if self.bank_rule == self.BankRule.KNOWN_MATERIAL:
            return route.known_material
        if self.bank_rule == self.BankRule.LISTED:
            return bool(set(bank_ids or ()) & set(route.bank_ids))
        return True


class CaseQuerySet(models.QuerySet):
    def claimable(self, now=None):
        """Open cases nobody holds a live lease on."""
        now = now or timezone.now()
        return self.filter(status=Case.Status.OPEN).filter(
            Q(assignee__isnull=True) | Q(lease_expires_at__lte=now)
        )


class Case(models.Model):
    """One review item per reported content item; its reports and flags roll up into it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DECIDED = "decided", "Decided"

    content_item = models.ForeignKey(
        "reports.ContentItem", on_delete=models.PROTECT, related_name="cases"
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    category = models.CharField(max_length=32, choices=Category)
    involves_child = models.BooleanField(default=False)
    priority = models.IntegerField(default=0)
    # [{"label": "involves a child", "points": 200}, ...], highest first, for people to read.
    priority_breakdown = models.JSONField(default=list, blank=True)
    reports_count = models.PositiveIntegerField(default=0)
    reporters_count = models.PositiveIntegerField(default=0)
    flags_count = models.PositiveIntegerField(default=0)
    max_flag_score = models.FloatField(null=True, blank=True)
    # The strongest bank match among the case's media, for the priority breakdown
    # (moderation.cases.priority.BankMatch: 0 none, 1 a bank, 2 a known-material bank).
    bank_match_label = models.CharField(max_length=150, blank=True)
    bank_match_level = models.PositiveSmallIntegerField(default=0)
    # Best share of past reports upheld among this case's reporters who have a long enough record
    # (reports.models.ReporterRecord); None when none has. Only the figure: never who.
    reporter_reliability = models.FloatField(null=True, blank=True)
    # Where its reports and flags came from: "form", "api", "flag:<source>" (for routing rules).
    sources = models.JSONField(default=list, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Since when the case has been waiting in its current queue: set when it opens, reopens or is
    # sent to senior review. Priority's waiting time, queue ages and SLAs count from here.
    waiting_since = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The case's first decision (of any action) or first automated (bank) action, whichever came
    # first; kept here by the services that write those, so transparency figures and the research
    # export read the time to first action through an index instead of working it out per case.
    first_action_at = models.DateTimeField(null=True, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        constraints = [
            # Reports and flags about one content item join its one open case.
            models.UniqueConstraint(
                fields=["content_item"],
                condition=Q(status="open"),
                name="one_open_case_per_content_item",
            ),
            models.CheckConstraint(
                condition=Q(assignee__isnull=True, lease_expires_at__isnull=True)
                | Q(assignee__isnull=False, lease_expires_at__isnull=False),
                name="case_lease_has_assignee",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(assignee__isnull=True),
                name="only_open_cases_are_assigned",
            ),
            models.CheckConstraint(
                condition=~Q(status="decided") | Q(decided_at__isnull=False),
                name="decided_case_has_decided_at",
            ),
        ]
        indexes = [
            # "Review next": highest priority first, oldest first among equals, per queue.
            models.Index(
                fields=["queue", "-priority", "waiting_since", "id"],
                condition=Q(status="open"),
                name="case_claim_order",
            ),
            # Cases under review right now: few whatever the backlog, counted live on dashboards.
            models.Index(
                fields=["queue"],
                condition=Q(assignee__isnull=False),
                name="case_assigned",
            ),
            # Queue health's hourly arrivals: cases that began waiting in a range of hours.
            models.Index(fields=["waiting_since"], name="case_waiting_since"),
            # Transparency report: cases first acted on in a period.
            models.Index(
                fields=["first_action_at"],
                condition=Q(first_action_at__isnull=False),
                name="case_first_action",
            ),
        ]

    def __str__(self):
        return f"Case {self.pk}"

    def lease_is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.lease_expires_at is not None and self.lease_expires_at > now


class CaseSkip(models.Model):
    """A reviewer passed on a case; "review next" does not hand it straight back to them."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="skips")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    skipped_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="one_skip_per_reviewer")
        ]

    def __str__(self):
        return f"{self.user} skipped {self.case}"


# Largest points any one input may be worth: keeps sums far from integer overflow and typos
# (50000 for 500) out.
MAX_POINTS = 100_000


def _default_severity() -> dict:
    return dict(DEFAULT_WEIGHTS.severity)


class PriorityWeights(models.Model):
    """One row: the points each priority input is worth. Edited in the admin; every change
    recomputes the priority of every open case."""

    severity = models.JSONField(
        default=_default_severity, help_text="Points per category, by category code."
    )
    involves_child = models.PositiveIntegerField(default=DEFAULT_WEIGHTS.involves_child)
    bank_match = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.bank_match,
        help_text="A match in a bank that raises priority or routes the case.",
    )
    known_material_match = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.known_material_match,
        help_text="A match in a bank of known material. Must outrank any case without one.",
    )
    per_extra_reporter = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.per_extra_reporter,
        help_text="For each distinct reporter beyond the first.",
    )
    max_reporter_points = models.PositiveIntegerField(default=DEFAULT_WEIGHTS.max_reporter_points)
    flag_score_weight = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.flag_score_weight,
        help_text="Points for a classifier score of 1.0 (a score of 0.9 earns 90% of them).",
    )
    reliability_weight = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.reliability_weight,
        help_text="Points for a reporter all of whose past decided reports were upheld (80% upheld "
        "earns 80% of them). Counts once a reporter has 5 decided reports.",
    )
    reach_points_per_decade = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.reach_points_per_decade,
        help_text="Reach counts on a log scale: points per tenfold audience (10, 100, 1,000 views).",
    )
    max_reach_points = models.PositiveIntegerField(default=DEFAULT_WEIGHTS.max_reach_points)
    per_waiting_hour = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.per_waiting_hour,
        help_text="For each hour a case has waited, so nothing starves.",
    )
    max_waiting_points = models.PositiveIntegerField(default=DEFAULT_WEIGHTS.max_waiting_points)
    sla_breach = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.sla_breach,
        help_text="Once a case has waited longer than its queue's SLA.",
    )
    per_hour_past_sla = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.per_hour_past_sla,
        help_text="For each hour (begun) a case has waited beyond its queue's SLA.",
    )
    max_sla_points = models.PositiveIntegerField(
        default=DEFAULT_WEIGHTS.max_sla_points,
        help_text="The most time past the SLA can add, breach included.",
    )
    # Bumped on every change, so every process knows to reload (see current_weights).
    version = models.PositiveBigIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "priority weights"
        verbose_name_plural = "priority weights"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="one_weights_row")]

    def __str__(self):
        return "Priority weights"

    def as_weights(self) -> Weights:
        return Weights(
            severity=MappingProxyType({c: int(self.severity.get(c, 0)) for c in Category.values}),
            **{name: getattr(self, name) for name in Weights.number_fields()},
        )

    def clean(self):
        errors = {}
        severity = self.severity
        if not isinstance(severity, dict):
            errors["severity"] = "An object of points per category."
        else:
            unknown = sorted(set(severity) - set(Category.values))
            missing = sorted(set(Category.values) - set(severity))
            bad = sorted(
                c
                for c, v in severity.items()
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_POINTS
            )
            if unknown:
                errors["severity"] = f"Unknown categories: {', '.join(unknown)}."
            elif missing:
                errors["severity"] = f"Points are needed for: {', '.join(missing)}."
            elif bad:
                errors["severity"] = (
                    f"Whole numbers from 0 to {MAX_POINTS:,} are needed for: {', '.join(bad)}."
                )
        for name in Weights.number_fields():
            value = getattr(self, name)
            if value is not None and value > MAX_POINTS:
                errors[name] = f"At most {MAX_POINTS:,}."
        if not errors:
            top = self.as_weights().max_points_without_known_material()
            if self.known_material_match <= top:
                errors["known_material_match"] = (
                    f"Must be more than {top:,}, the most a case can score without a "
                    "known-material match, so known material always comes first."
                )
        if errors:
            raise ValidationError(errors)

    @classmethod
    def load(cls) -> "PriorityWeights":
        row = cls.objects.filter(pk=1).first()
        return row if row is not None else cls(pk=1)


class AccountCaseSettings(models.Model):
    """One row, edited by administrators: when reports about one account add up to a case about
    the account itself (moderation/cases/accounts.py). Either threshold reached opens it."""

    enabled = models.BooleanField(default=True)
    min_reported_items = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(2)],
        help_text="Open an account case when this many different things the account posted or "
        "sent (posts, messages, conversations) have been reported or flagged.",
    )
    min_minor_contacts = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1)],
        help_text="Open an account case when the account, not known to be a minor, is in "
        "reported conversations with this many different minors.",
    )

    class Meta:
        verbose_name = "account case settings"
        verbose_name_plural = "account case settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_reported_items__gte=2, min_minor_contacts__gte=1),
                name="account_case_thresholds_positive",
            )
        ]

    def __str__(self):
        if not self.enabled:
            return "Account cases off"
        return (
            f"Account case at {self.min_reported_items} reported items or "
            f"{self.min_minor_contacts} minors contacted"
        )

    @classmethod
    def current(cls) -> "AccountCaseSettings":
        return cls.objects.order_by("pk").first() or cls()
