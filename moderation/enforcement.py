"""What Vigil asks the platform to do, and what it reports to the authorities.

Vigil records; the platform enforces. An EnforcementAction is created pending and is delivered
to the platform by the reviewer-console work (signed webhooks); an Escalation gathers one reported
account's escalated content for an authority and is assembled into a packet by the escalation work.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EnforcementAction(models.Model):
    class Kind(models.TextChoices):
        REMOVE_CONTENT = "remove_content", "Remove content"
        SUSPEND_ACCOUNT = "suspend_account", "Suspend account"
        AGE_RESTRICT = "age_restrict", "Age-restrict / label"
        WARN = "warn", "Warn owner"
        SAFETY_NOTICE = "safety_notice", "Send safety notice"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending delivery to the platform"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Delivery failed"
        REVERSED = "reversed", "Reversed by a reviewer"

    case = models.ForeignKey("moderation.Case", on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(max_length=20, choices=Kind)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    # What it acts on: the platform's content id, or its owner's account id for a suspension.
    target = models.CharField(max_length=255)
    # Why: "bank ncmec-known (PDQ distance 4)", or a decision.
    reason = models.CharField(max_length=300)
    decision = models.ForeignKey(
        "moderation.Decision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="actions",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind", "target"],
                condition=Q(status="pending"),
                name="one_pending_action_per_kind_and_target",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.target} ({self.status})"


class Escalation(models.Model):
    """A report to an authority about one reported account, gathering all its escalated content."""

    class Authority(models.TextChoices):
        NCMEC = "ncmec", "NCMEC CyberTipline"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        ASSEMBLING = "assembling", "Assembling"
        READY = "ready", "Ready"
        SUBMITTED = "submitted", "Submitted"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        FAILED = "failed", "Failed"

    OPEN = ("draft", "awaiting_approval", "assembling", "ready")

    authority = models.CharField(max_length=10, choices=Authority, default=Authority.NCMEC)
    # The reported account on the platform ("" when the content's owner is unknown).
    owner_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.DRAFT)
    cases = models.ManyToManyField("moderation.Case", related_name="escalations")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    opened_reason = models.CharField(max_length=300)
    urgent = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One open escalation per reported account and authority, as the reporting API expects.
            models.UniqueConstraint(
                fields=["authority", "owner_id"],
                condition=Q(status__in=["draft", "awaiting_approval", "assembling", "ready"])
                & ~Q(owner_id=""),
                name="one_open_escalation_per_account",
            )
        ]

    def __str__(self):
        return f"{self.get_authority_display()} escalation {self.pk} ({self.status})"
