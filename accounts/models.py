from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from accounts.roles import ROLES_BY_RANK, Role


class User(AbstractUser):
    """A member of the trust-and-safety team. Reporters never have accounts here."""

    class Meta:
        permissions = [
            ("review_cases", "Can claim and decide cases in certified queues"),
            ("senior_review", "Can work the senior-review queue"),
            ("supervise", "Can see audit views, queue health and reviewers' work"),
            ("administer", "Can manage queues, banks, tokens and users"),
        ]

    @property
    def role(self) -> Role | None:
        names = {g.name for g in self.groups.all()}
        for role in ROLES_BY_RANK:
            if role.value in names:
                return role
        return None


class QueueCertificationQuerySet(models.QuerySet):
    def current(self):
        return self.filter(expires_at__gt=timezone.now())


class QueueCertification(models.Model):
    """A reviewer's training for one queue. Expired certifications no longer allow claiming."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certifications"
    )
    queue = models.ForeignKey(
        "moderation.Queue", on_delete=models.CASCADE, related_name="certifications"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    objects = QueueCertificationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "queue"], name="one_certification_per_queue"),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("granted_at")),
                name="certification_expires_after_grant",
            ),
        ]

    def __str__(self):
        return f"{self.user} → {self.queue} until {self.expires_at:%Y-%m-%d}"
