"""Jobs written with the change that needs them, handed to RQ after commit (lib/jobs.py)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


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
