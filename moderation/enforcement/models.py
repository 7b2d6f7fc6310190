"""What Vigil asks the platform to do, and what it reports to the authorities.

Vigil records; the platform enforces. An EnforcementAction is created pending and is delivered to
the platform as a signed webhook (a WebhookDelivery, each attempt logged as a DeliveryAttempt; see
moderation/enforcement/delivery.py). Reports to the authorities are in moderation/escalations/models.py.
"""

import uuid

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
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Kept in Vigil (and its audit log); the platform is told only that it was reversed, and why
    # in one word (`reversal_source`), never this free text.
    reversal_reason = models.CharField(max_length=500, blank=True)
    reversal_source = models.CharField(max_length=10, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="reversed") | Q(reversed_at__isnull=False),
                name="reversed_action_has_reversed_at",
            ),
            models.UniqueConstraint(
                fields=["case", "kind", "target"],
                condition=Q(status="pending"),
                name="one_pending_action_per_kind_and_target",
            ),
        ]
        indexes = [
            # What banks did on their own, by time: statements of reasons (moderation/dsa/selectors.py).
            models.Index(
                fields=["created_at", "id"],
                condition=Q(decision__isnull=True),
                name="automated_action_by_time",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.target} ({self.status})"


class WebhookDelivery(models.Model):
    """One message to the platform about an action: that it was requested, or later reversed.

    `uuid` is the delivery id the platform deduplicates on: every attempt and every re-send of
    this delivery carries it, so the platform acts on it once however often it arrives.
    """

    class Event(models.TextChoices):
        REQUESTED = "action.requested", "Action requested"
        REVERSED = "action.reversed", "Action reversed"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        # The action was reversed before the platform ever received this request.
        CANCELLED = "cancelled", "Cancelled (reversed before delivery)"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    action = models.ForeignKey(
        EnforcementAction, on_delete=models.PROTECT, related_name="deliveries"
    )
    event = models.CharField(max_length=20, choices=Event)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    # Attempts since it was last (re)queued: the retry schedule counts these.
    attempts = models.PositiveIntegerField(default=0)
    # All attempts ever, across re-sends (numbers the log).
    attempts_total = models.PositiveIntegerField(default=0)
    # While pending: when the next attempt is due. A pending delivery long overdue has lost its
    # job (Redis restarted, say) and the sweep queues it again.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "event"], name="one_delivery_per_event"),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="pending_delivery_has_next_attempt",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="delivered_delivery_has_delivered_at",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due",
            ),
            models.Index(fields=["status", "-id"], name="delivery_by_status"),
        ]

    def __str__(self):
        return f"{self.event} for action {self.action_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP request to the platform and what came of it."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRY = "retry", "Will retry"
        FAILED = "failed", "Failed"

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.PROTECT, related_name="log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    # None when no HTTP answer came (connection refused, timeout, TLS error).
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")
        ]

    def __str__(self):
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"
