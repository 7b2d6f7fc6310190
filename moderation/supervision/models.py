"""The hourly rollup behind queue health (moderation/supervision/queue_health.py)."""

from django.db import models


class QueueHour(models.Model):
    """Arrivals and decisions in one queue during one UTC hour.

    Rebuilt from indexed ranges by `queue_hours_recompute`, never incremented by the intake or
    decision paths (no hot row on the current hour). Hours with neither have no row.
    """

    queue = models.ForeignKey("moderation.Queue", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()  # the start of the hour, UTC
    arrivals = models.PositiveIntegerField(default=0)
    decisions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "queue"], name="one_row_per_queue_hour")
        ]

    def __str__(self):
        return f"{self.queue_id} {self.hour:%Y-%m-%d %H}:00"
