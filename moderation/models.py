from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

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
    case takes it. An empty rule matches everything (moderation/routing.py).
    """

    class BankRule(models.TextChoices):
        ANY_OR_NONE = "", "Any case, matched or not"
        ANY_BANK = "any", "Cases with a match in any bank"
        KNOWN_MATERIAL = "known_material", "Cases with a match in a known-material bank"
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
    # (moderation/rules.py: "notes", "intent", "classification").
    required_fields = models.JSONField(default=list, blank=True)

    objects = QueueQuerySet.as_manager()

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self):
        return self.name

    def clean(self):
        from moderation.routing import normalise_language, source_rule_error

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
        """Whether a case with these routing inputs (moderation.routing.RouteInput) belongs here.
        `bank_ids`: the ids of the banks this queue lists (for the 'listed' rule)."""
        from moderation.routing import language_matches, source_matches

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
    # (moderation.priority.BankMatch: 0 none, 1 a bank, 2 a known-material bank).
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


class Decision(models.Model):
    class Action(models.TextChoices):
        NO_VIOLATION = "no_violation", "No violation"
        REMOVE = "remove", "Remove content"
        AGE_RESTRICT = "age_restrict", "Age-restrict / label"
        WARN = "warn", "Warn owner"
        SAFETY_NOTICE = "safety_notice", "Send safety notice"
        SUSPEND = "suspend", "Suspend account"
        ESCALATE = "escalate", "Escalate to authority"
        SENIOR_REVIEW = "senior_review", "Send to senior review"

    class Intent(models.TextChoices):
        MALICIOUS = "malicious", "Malicious"
        NON_MALICIOUS = "non_malicious", "Non-malicious (e.g. outrage, poor humour)"

    class Classification(models.TextChoices):
        # The industry classification scheme used in CyberTipline reports.
        A1 = "A1", "A1 – prepubescent, sex act"
        A2 = "A2", "A2 – prepubescent, lascivious exhibition"
        B1 = "B1", "B1 – pubescent, sex act"
        B2 = "B2", "B2 – pubescent, lascivious exhibition"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    action = models.CharField(max_length=16, choices=Action)
    policy = models.CharField(max_length=100)
    intent = models.CharField(max_length=16, choices=Intent, blank=True)
    classification = models.CharField(max_length=2, choices=Classification, blank=True)
    notes = models.TextField(blank=True, max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Statements of reasons page through decisions by time (moderation/dsa.py).
            models.Index(fields=["created_at", "id"], name="decision_by_time"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} on case {self.case_id}"


class AuditEvent(models.Model):
    """An append-only record of a state change or a view of sensitive material.

    Written only by services, in the same transaction as the change it records.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        # Indexed by (actor, id) below, which also serves the foreign key.
        db_index=False,
    )
    # "system", "public form", "api token …": who acted when there is no user.
    actor_label = models.CharField(max_length=150)
    verb = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    case = models.ForeignKey(
        Case,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The hash chain (moderation/audit_chain.py): NULL until the sealer gives the event its place.
    seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    # NULL, not "": unsealed is "all three NULL" (audit_sealed_whole), which the trigger checks.
    prev_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    hash = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001

    class Meta:
        ordering = ["-id"]
        # The audit browser's filters, each read newest first by id (keyset pages).
        indexes = [
            models.Index(fields=["actor", "id"], name="audit_actor_id"),
            # A reviewer's events of one kind ("what did they decide"), however rare together.
            models.Index(fields=["actor", "verb", "id"], name="audit_actor_verb_id"),
            models.Index(fields=["verb", "id"], name="audit_verb_id"),
            models.Index(fields=["case", "id"], name="audit_case_id"),
            models.Index(fields=["object_type", "object_id", "id"], name="audit_object_id"),
            # The sealer's and the verifier's "unsealed events, oldest first".
            models.Index(
                fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(seq__isnull=True, prev_hash__isnull=True, hash__isnull=True)
                | models.Q(seq__gte=1, prev_hash__isnull=False, hash__isnull=False),
                name="audit_sealed_whole",
            )
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.verb}"


class AuditVerification(models.Model):
    """One run of the audit chain check (the daily job, or a supervisor's "verify now")."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # None while queued or running.
    ok = models.BooleanField(null=True)
    events_checked = models.BigIntegerField(default=0)
    first_bad_id = models.BigIntegerField(null=True, blank=True)
    first_bad_seq = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    # Where the chain ended: the next run checks this event is still there, unchanged.
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"audit verification {self.pk}: {self.message or 'pending'}"


class OutboxJob(models.Model):
    """A background job recorded in the same transaction as the write that needs it.

    With Redis up it is handed to RQ right after commit. If Redis is down, the row stays pending
    and `manage.py relay_outbox` hands it over once Redis is back: an accepted report never loses
    its jobs. Jobs are idempotent, so a job relayed twice does no harm.
    """

    func = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    queue = models.CharField(max_length=50, default="default")
    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(enqueued_at__isnull=True),
                name="outbox_pending",
            )
        ]

    def __str__(self):
        return f"{self.func}{tuple(self.args)}"


from moderation.banks import BankEntry, BankVersion, HashBank, Match  # noqa: E402,F401


class Cluster(models.Model):
    """Near-duplicate media: every member is within the PDQ threshold of another member."""

    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"cluster {self.pk}"


class ClusterLock(models.Model):
    """One row, locked while a media file joins a cluster, so two workers hashing near-copies
    at the same moment see each other instead of starting two clusters."""

    def __str__(self):
        return "cluster lock"


from moderation.enforcement import (  # noqa: E402,F401
    DeliveryAttempt,
    EnforcementAction,
    WebhookDelivery,
)
from moderation.escalation_models import (  # noqa: E402,F401
    Escalation,
    EscalationFile,
    SubmissionAttempt,
)
from moderation.health_models import QueueHour  # noqa: E402,F401
from moderation.quality import Appeal, QualitySettings, ReReview  # noqa: E402,F401
from moderation.scoring import PriorityWeights  # noqa: E402,F401
