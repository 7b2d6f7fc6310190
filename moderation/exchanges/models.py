"""Hash exchanges: the programmes a platform receives hash lists from (NCMEC's hash sharing,
StopNCII, Meta's ThreatExchange, a partner's HTTPS feed) and sends feedback to; each sync
recorded; the feedback queued for each; and the tokens partners read Vigil's published banks with.

Credentials never live here: an exchange names the environment variables that hold them
(moderation/exchanges/clients/base.py reads them when a client is made)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Exchange(models.Model):
    class Kind(models.TextChoices):
        NCMEC = "ncmec", "NCMEC hash sharing"
        STOPNCII = "stopncii", "StopNCII"
        THREATEXCHANGE = "threatexchange", "Meta ThreatExchange"
        HTTPS_FEED = "https_feed", "HTTPS feed (CSV or JSON lines)"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=20, choices=Kind)
    # The bank its entries go to: one bank per exchange, so a withdrawal at source removes only
    # what that programme listed.
    bank = models.ForeignKey(
        "moderation.HashBank", on_delete=models.PROTECT, related_name="exchanges"
    )
    # The API's base URL, or the feed's URL.
    url = models.URLField(max_length=500)
    # What the client needs that is not secret: a privacy group, a member id, a feed's format.
    options = models.JSONField(default=dict, blank=True)
    # The prefix of the environment variables holding its credentials (e.g. VIGIL_EXCHANGE_NCMEC
    # for VIGIL_EXCHANGE_NCMEC_USER and _PASSWORD): secrets stay out of the database.
    credentials_env = models.CharField(max_length=100, blank=True)
    is_enabled = models.BooleanField(default=True)
    # How often the schedule syncs it (0: on demand only).
    sync_every_minutes = models.PositiveIntegerField(default=60)
    # Whether reviewers' decisions on its entries' matches go back to it as feedback.
    send_feedback = models.BooleanField(default=True)
    # Where the next sync starts: the client's own cursor (a page token, a timestamp), saved with
    # each page applied, so a sync interrupted anywhere resumes from its last applied page.
    checkpoint = models.JSONField(default=dict, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Consecutive failed syncs, and when the schedule may try again (backoff).
    failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A sync under way holds the exchange until then (a worker that died lets go when it passes).
    sync_lease = models.CharField(max_length=32, blank=True)
    sync_lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(sync_lease="") | Q(sync_lease_until__isnull=False),
                name="exchange_lease_has_expiry",
            )
        ]

    def __str__(self):
        return self.name


class EntrySource(models.Model):
    """One programme item that lists a bank entry. Several items may list the same hash (NCMEC's
    members often list the same MD5): the entry stays while any of them does, and goes when the
    last one withdraws it. BankEntry.source_id keeps the first, for display and feedback."""

    entry = models.ForeignKey(
        "moderation.BankEntry", on_delete=models.CASCADE, related_name="sources"
    )
    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="+")
    source_id = models.CharField(max_length=255)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "source_id", "entry"], name="one_source_row_per_item_entry"
            )
        ]

    def __str__(self):
        return f"{self.source_id} lists entry {self.entry_id}"


class ExchangeSync(models.Model):
    """One sync of an exchange: what it fetched and applied, how long it took, how it ended."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "On demand"

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="syncs")
    trigger = models.CharField(max_length=10, choices=Trigger, default=Trigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Attempts of this sync (a transient failure is retried with backoff by the same row).
    attempts = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    checkpoint_before = models.JSONField(default=dict, blank=True)
    checkpoint_after = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["exchange", "-started_at"], name="exchange_sync_latest")]
        constraints = [
            # At most one sync of an exchange running at a time.
            models.UniqueConstraint(
                fields=["exchange"], condition=Q(status="running"), name="one_running_sync"
            ),
            models.CheckConstraint(
                condition=Q(status="running") | Q(finished_at__isnull=False),
                name="finished_sync_has_finished_at",
            ),
        ]

    def __str__(self):
        return f"sync {self.pk} of {self.exchange_id} ({self.status})"

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None


class ExchangeFeedback(models.Model):
    """A reviewer's decision on media an exchange's entry matched, as that programme's feedback:
    queued with the decision, sent by a job with retries."""

    class Verdict(models.TextChoices):
        AGREE = "agree", "Agree: the material is what the entry says"
        DISAGREE = "disagree", "Disagree: not what the entry says"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="feedback")
    entry = models.ForeignKey(
        "moderation.BankEntry", on_delete=models.PROTECT, related_name="feedback"
    )
    decision = models.ForeignKey(
        "moderation.Decision", on_delete=models.PROTECT, related_name="exchange_feedback"
    )
    verdict = models.CharField(max_length=10, choices=Verdict)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "decision"], name="one_feedback_per_entry_decision"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="exchange_feedback_due",
            )
        ]

    def __str__(self):
        return f"{self.verdict} on entry {self.entry_id} ({self.status})"


class FeedToken(models.Model):
    """A partner platform's token to read Vigil's published banks as a feed. Stored hashed (as
    API tokens are); scoped to the banks it names."""

    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    banks = models.ManyToManyField("moderation.HashBank", related_name="feed_tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name
