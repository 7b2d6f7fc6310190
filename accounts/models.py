import hashlib
import hmac
import secrets

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
            ("submit_reports", "API: can forward user reports (scope report)"),
            ("submit_flags", "API: can send automated flags (scope flag)"),
            ("api_read", "API: can read queues, cases, banks and hash matches (scope read)"),
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


TOKEN_PREFIX = "vgl_"  # noqa: S105 - a marker, not a secret


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of randomness: a plain SHA-256 is enough, and fast to check.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for the platform API. Only its hash is stored; the token is shown once."""

    class Scope(models.TextChoices):
        REPORT = "report", "Forward user reports"
        FLAG = "flag", "Send automated flags"
        READ = "read", "Read queues, cases, banks and hash matches"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The first characters of the token, to find its row without scanning; not secret.
    lookup = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    rate_limit_per_minute = models.PositiveIntegerField(default=600)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="token_name_unique_per_user"),
        ]

    def __str__(self):
        return f"{self.name} ({self.user}, {TOKEN_PREFIX}{self.lookup}…)"

    @staticmethod
    def generate() -> tuple[str, str]:
        """A new token and its lookup part."""
        lookup = secrets.token_hex(6)
        return f"{TOKEN_PREFIX}{lookup}_{secrets.token_urlsafe(32)}", lookup

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, hash_token(token))
