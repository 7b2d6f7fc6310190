from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reports.categories import Category


class Queue(models.Model):
    """A queue of cases, filled by routing rules and worked by reviewers certified for it.

    Rules are tried in `order` (lowest first); the first queue whose rules match a case takes it.
    An empty category list matches every category; `involves_child` None matches either answer.
    """

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=100)
    categories = models.JSONField(default=list, blank=True)
    involves_child = models.BooleanField(null=True, blank=True)
    sla_minutes = models.PositiveIntegerField(default=24 * 60)
    is_active = models.BooleanField(default=True)
    # Worked only by senior reviewers; routing never moves a case out of it.
    senior_only = models.BooleanField(default=False)
    # The appeals queue: reached only by an owner's appeal; routing never moves a case in or out.
    for_appeals = models.BooleanField(default=False)

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self):
        return self.name

    def matches(self, *, category: str, involves_child: bool) -> bool:
        if self.categories and category not in self.categories:
            return False
        return self.involves_child is None or self.involves_child == involves_child


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
    # The strongest bank match among the case's media, for the priority breakdown.
    bank_match_label = models.CharField(max_length=150, blank=True)
    bank_match_points = models.PositiveIntegerField(default=0)
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
    )
    # "system", "public form", "api token …": who acted when there is no user.
    actor_label = models.CharField(max_length=150)
    verb = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.verb}"


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
    Escalation,
    WebhookDelivery,
)
from moderation.quality import Appeal, QualitySettings, ReReview  # noqa: E402,F401
