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
            (
                "access_preserved_evidence",
                "Can view evidence preserved for a report to the authorities",
            ),
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


class ReviewerPreferences(models.Model):
    """How a reviewer wants sensitive media shown once revealed. No row means the defaults."""

    MAX_BLUR_PX = 40

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="review_preferences",
    )
    # Blur applied to a revealed image until the reviewer clears it (0: none).
    blur_px = models.PositiveSmallIntegerField(default=16)
    greyscale = models.BooleanField(default=True)
    # A revealed video's player starts muted (sound can carry a victim's voice); some reviewers
    # need the sound to judge, and turn it on once rather than on every video.
    play_muted = models.BooleanField(default=True)
    # After a decision or a skip, open the next case at once instead of the queues.
    auto_advance = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(blur_px__lte=40), name="preferences_blur_at_most_40px"
            )
        ]

    def __str__(self):
        return f"{self.user}: blur {self.blur_px}px, greyscale {self.greyscale}"


class ExposureEvent(models.Model):
    """One exposure of a reviewer to reported material: a media reveal (an image, a video's
    stills or its player), or a decision (with whether its queue holds sensitive material). Compact and indexed by (user, time) so the
    per-shift counts stay cheap however long the history."""

    class Kind(models.TextChoices):
        REVEAL = "reveal", "Media revealed"
        DECISION = "decision", "Case decided"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind)
    case = models.ForeignKey("moderation.Case", on_delete=models.CASCADE, related_name="+")
    # The queue at the time: a case can move on (senior review), the exposure happened here.
    queue = models.ForeignKey("moderation.Queue", on_delete=models.CASCADE, related_name="+")
    sensitive = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    # A reveal of a video (its strip of stills, or its player), counted per reveal like an image.
    video = models.BooleanField(default=False)
    # For a video's player: the seconds of it played since that reveal (the largest total the
    # page reported, at most the video's length); null for anything else.
    seconds_played = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "at"], name="exposure_user_time"),
            models.Index(fields=["at"], name="exposure_time"),
        ]

    def __str__(self):
        return f"{self.user} {self.kind} case {self.case_id} at {self.at:%Y-%m-%d %H:%M}"


class SensitivePause(models.Model):
    """A supervisor keeps a reviewer away from sensitive queues until a time (or until lifted)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sensitive_pauses"
    )
    until = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(until__gt=models.F("created_at")),
                name="pause_ends_after_it_starts",
            )
        ]
        indexes = [models.Index(fields=["user", "until"], name="pause_user_until")]

    def __str__(self):
        return f"{self.user} paused from sensitive queues until {self.until:%Y-%m-%d %H:%M}"

    @classmethod
    def active_q(cls, now):
        return models.Q(lifted_at__isnull=True, until__gt=now)
