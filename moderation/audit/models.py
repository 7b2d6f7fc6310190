"""The audit log: every state change and every view of sensitive media, as a hash chain."""

from django.conf import settings
from django.db import models
from django.utils import timezone


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
        "moderation.Case",
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
    # The hash chain (moderation/audit/chain.py): NULL until the sealer gives the event its place.
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
