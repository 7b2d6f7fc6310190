"""Decisions on cases, and the second looks at them: appeals by the content's owner and blind
re-review of a sample. The records only; deciding is moderation/review."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


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

    class Target(models.TextChoices):
        # What in a conversation the decision is about; "" (blank): the case's content as a
        # whole (the post, the whole conversation, the account of an account case).
        MESSAGE = "message", "A message"
        ACCOUNT = "account", "A participant's account"

    case = models.ForeignKey("moderation.Case", on_delete=models.PROTECT, related_name="decisions")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    action = models.CharField(max_length=16, choices=Action)
    policy = models.CharField(max_length=100)
    intent = models.CharField(max_length=16, choices=Intent, blank=True)
    classification = models.CharField(max_length=2, choices=Classification, blank=True)
    notes = models.TextField(blank=True, max_length=5000)
    # A safety notice to the owner added to a finding (never a CSAM finding's only action:
    # moderation/decisions/rules.py).
    safety_notice = models.BooleanField(default=False)
    # A referral the console made instead of the reviewer's choice (moderation/review/guard.py):
    # what they chose, and why a senior reviewer decides it instead.
    proposed_action = models.CharField(max_length=16, choices=Action, blank=True)
    referral_reason = models.CharField(max_length=300, blank=True)
    target = models.CharField(max_length=8, choices=Target, blank=True)
    # The message's platform id, or the participant's account id.
    target_ref = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(target="", target_ref="") | ~Q(target="") & ~Q(target_ref=""),
                name="decision_target_names_what",
            ),
            models.CheckConstraint(
                condition=Q(safety_notice=False)
                | ~Q(action__in=["no_violation", "senior_review", "safety_notice"]),
                name="safety_notice_added_to_a_finding",
            ),
            models.CheckConstraint(
                condition=Q(proposed_action="", referral_reason="") | Q(action="senior_review"),
                name="proposal_only_on_a_referral",
            ),
        ]
        indexes = [
            # Statements of reasons page through decisions by time (moderation/dsa/selectors.py).
            models.Index(fields=["created_at", "id"], name="decision_by_time"),
            # The account page finds decisions about an account or one of its messages made on
            # conversations it does not own.
            models.Index(
                fields=["target", "target_ref"], condition=~Q(target=""), name="decision_target"
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} on case {self.case_id}"


class Appeal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        UPHELD = "upheld", "Upheld (the decision stands)"
        # Decided again as no violation: everything the decision asked is undone.
        OVERTURNED = "overturned", "Overturned (no violation)"
        STRICTER = "stricter", "Changed to a stricter action"
        MILDER = "milder", "Changed to a milder action"

    # The appeal changed the decision (DSA: the statement of reasons says so).
    CHANGED = ("overturned", "stricter", "milder")
    # The outcome asks less of the platform: what the contested decision asked and the outcome
    # does not is reversed. A stricter outcome only adds (rules.action_severity).
    EASED = ("overturned", "milder")

    case = models.ForeignKey("moderation.Case", on_delete=models.PROTECT, related_name="appeals")
    # The decision the owner contests; one appeal per decision.
    decision = models.OneToOneField(
        "moderation.Decision", on_delete=models.PROTECT, related_name="appeal"
    )
    statement = models.TextField(max_length=5000)
    status = models.CharField(max_length=12, choices=Status, default=Status.OPEN)
    # The decision that settled the appeal, and who made it.
    outcome = models.OneToOneField(
        "moderation.Decision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settled_appeal",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The API caller that filed it (the platform's account), for the audit trail.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="open"), name="one_open_appeal_per_case"
            ),
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True, outcome__isnull=True)
                | (~Q(status="open") & Q(decided_at__isnull=False, outcome__isnull=False)),
                name="decided_appeal_has_outcome",
            ),
        ]

    def __str__(self):
        return f"Appeal {self.pk} of decision {self.decision_id} ({self.status})"


class QualitySettings(models.Model):
    """One row, edited by administrators: how much of the reviewers' work gets a second look."""

    rereview_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=0.05,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of decisions sampled for blind re-review, 0 to 1 (0.05 = 5%; 0 turns "
        "sampling off).",
    )

    class Meta:
        verbose_name = "quality settings"
        verbose_name_plural = "quality settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(rereview_share__gte=0, rereview_share__lte=1),
                name="rereview_share_is_a_share",
            )
        ]

    def __str__(self):
        return f"Re-review {self.rereview_share * 100:g}% of decisions"

    @classmethod
    def current(cls) -> "QualitySettings":
        return cls.objects.order_by("pk").first() or cls()


class ReReview(models.Model):
    """A sampled decision, decided again blind by another reviewer."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a re-review"
        AGREED = "agreed", "Agreed"
        DISAGREED = "disagreed", "Disagreed: waiting for a supervisor"
        RESOLVED = "resolved", "Disagreement resolved"

    class Stands(models.TextChoices):
        ORIGINAL = "original", "The original decision stands"
        REREVIEW = "rereview", "The re-review's decision stands"

    decision = models.OneToOneField(
        "moderation.Decision", on_delete=models.PROTECT, related_name="rereview"
    )
    case = models.ForeignKey("moderation.Case", on_delete=models.PROTECT, related_name="+")
    # The case's queue when it was decided: only reviewers certified for it may re-review.
    queue = models.ForeignKey("moderation.Queue", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The last reviewer who handed it back unrecorded, so "re-review one" does not hand it
    # straight back to them.
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    action = models.CharField(max_length=16, blank=True)
    policy = models.CharField(max_length=100, blank=True)
    intent = models.CharField(max_length=16, blank=True)
    classification = models.CharField(max_length=2, blank=True)
    notes = models.TextField(blank=True, max_length=5000)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    stands = models.CharField(max_length=10, choices=Stands, blank=True)
    resolution_note = models.TextField(blank=True, max_length=5000)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(assignee__isnull=True, lease_expires_at__isnull=True)
                | Q(assignee__isnull=False, lease_expires_at__isnull=False),
                name="rereview_lease_has_assignee",
            ),
            models.CheckConstraint(
                condition=Q(status="open")
                | Q(reviewed_at__isnull=False, reviewed_by__isnull=False) & ~Q(action=""),
                name="reviewed_rereview_has_action",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False) & ~Q(stands=""),
                name="resolved_rereview_says_what_stands",
            ),
        ]
        indexes = [
            models.Index(
                fields=["queue", "created_at", "id"],
                condition=Q(status="open"),
                name="rereview_claim_order",
            ),
            models.Index(
                fields=["created_at"], condition=Q(status="disagreed"), name="rereview_disagreed"
            ),
        ]

    def __str__(self):
        return f"Re-review {self.pk} of decision {self.decision_id} ({self.status})"

    @property
    def action_label(self) -> str:
        return Decision.Action(self.action).label if self.action else ""

    @property
    def agrees(self) -> bool | None:
        if self.status == self.Status.OPEN:
            return None
        return self.action == self.decision.action
