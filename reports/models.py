import re
import secrets

from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from reports.categories import Category

# Unambiguous characters only: reference numbers are read aloud and typed by hand.
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    """A public reference like VR-7K3M-Q9PX: unguessable, so it can later unlock a status page."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"VR-{chars[:4]}-{chars[4:]}"


# Separators people type or their phones insert in a reference: spaces, hyphens, dashes.
REFERENCE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


def normalise_reference(text: str) -> str | None:
    """VR-ABCD-2345 however it is typed: with or without its hyphens or the VR, in any case,
    with spaces or dashes a phone put in; None when it is not shaped like one (the status page
    and the console's search read references alike)."""
    raw = REFERENCE_SEPARATORS.sub("", text).upper()
    if len(raw) == 10 and raw.startswith("VR"):
        raw = raw[2:]
    if not re.fullmatch(r"[A-Z0-9]{8}", raw):
        return None
    return f"VR-{raw[:4]}-{raw[4:]}"


class ContentItem(models.Model):
    """The reported thing on the platform. Reports and flags about it roll up into its case."""

    class Type(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        POST = "post", "Post"
        MESSAGE = "message", "Message"
        ACCOUNT = "account", "Account"
        # A conversation between accounts (direct messages, a group chat): its participants
        # and messages are reports.models.Participant and Message.
        CONVERSATION = "conversation", "Conversation"
        OTHER = "other", "Other"

    # The platform's id when the platform sent it, otherwise derived from the URL (see services).
    key = models.CharField(max_length=600, unique=True)
    platform_id = models.CharField(max_length=255, blank=True, db_index=True)
    # SHA-256 of the canonical URL (reports/content.py): the form knows only the URL, the
    # platform also its id, and both must land on the same item. Indexed, not unique: items keyed
    # by the previous rule that turned out to be one keep their own rows (migration 0009).
    url_key = models.CharField(max_length=64, blank=True, db_index=True)
    url = models.URLField(max_length=2000, blank=True)
    type = models.CharField(max_length=16, choices=Type, default=Type.OTHER)
    # Indexed: the review screen shows the decisions on the owner's other content.
    owner_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Search finds an account by handle whatever its case (index on UPPER(), in Meta).
    owner_handle = models.CharField(max_length=255, blank=True)
    # The content's language as a BCP 47 tag ("pt-BR"), when the platform knows it (routing).
    language = models.CharField(max_length=35, blank=True)
    # Views or audience size, as last reported by the platform (priority).
    reach = models.PositiveBigIntegerField(null=True, blank=True)
    # When the owner posted or uploaded it to the platform, as the platform says (CyberTipline
    # incidentDateTime and uploadedToEspTimestamp); unknown for the public form.
    posted_at = models.DateTimeField(null=True, blank=True)
    # Could anyone online see it (CyberTipline publiclyAvailable)? None = the platform did not say.
    publicly_available = models.BooleanField(null=True, blank=True)
    # The owner's e-mail address as the platform holds it (CyberTipline reportedPerson email):
    # the reported account's, never the reporter's.
    owner_email = models.EmailField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Search's handle lookup (owner_handle__iexact: UPPER(owner_handle) = UPPER(%s)).
            models.Index(Upper("owner_handle"), name="contentitem_handle_upper"),
        ]

    def __str__(self):
        return self.platform_id or self.url or self.key


# The CyberTipline's ipCaptureType values, verbatim from the schema.
IP_CAPTURE_EVENTS = ["Login", "Registration", "Purchase", "Upload", "Other", "Unknown"]


class IpCapture(models.Model):
    """An IP address the content's owner used, for what and when, as the platform recorded it.
    Reported to the authority with the owner (CyberTipline ipCaptureEvent). Never the reporter's:
    their IP is in ReporterIdentity and goes nowhere near the reported user's details."""

    Event = models.TextChoices("Event", [(e, e) for e in IP_CAPTURE_EVENTS])

    content_item = models.ForeignKey(
        ContentItem, on_delete=models.PROTECT, related_name="ip_captures"
    )
    ip = models.GenericIPAddressField()
    event = models.CharField(max_length=12, choices=Event, default="Unknown")
    captured_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # A later report repeating an event adds nothing.
            models.UniqueConstraint(
                fields=["content_item", "ip", "event", "captured_at"], name="one_ip_capture"
            )
        ]

    def __str__(self):
        return f"{self.ip} ({self.event}, {self.captured_at:%Y-%m-%d %H:%M})"


class Report(models.Model):
    """A report by a person: through the public form or forwarded by the platform."""

    class ReporterKind(models.TextChoices):
        PUBLIC = "public", "Member of the public"
        PLATFORM_USER = "platform_user", "Platform user"
        SELF = "self", "The person pictured (self-report)"
        TRUSTED_FLAGGER = "trusted_flagger", "Trusted flagger"

    class Source(models.TextChoices):
        FORM = "form", "Public form"
        API = "api", "Platform API"

    reference = models.CharField(max_length=16, unique=True, default=new_reference, editable=False)
    content_item = models.ForeignKey(ContentItem, on_delete=models.PROTECT, related_name="reports")
    case = models.ForeignKey("moderation.Case", on_delete=models.PROTECT, related_name="reports")
    category = models.CharField(max_length=32, choices=Category)
    description = models.TextField(blank=True, max_length=5000)
    involves_child = models.BooleanField(default=False)
    reporter_kind = models.CharField(max_length=16, choices=ReporterKind)
    source = models.CharField(max_length=8, choices=Source)
    # The API caller (a platform account) that forwarded it; empty for the public form.
    submitted_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.reference

    @property
    def is_self_report(self) -> bool:
        """Made by the young person pictured: through the self-report path, or by choosing that
        category on the general form."""
        return (
            self.reporter_kind == self.ReporterKind.SELF or self.category == Category.SELF_GENERATED
        )


class ReporterIdentity(models.Model):
    """Who made a report. Kept apart from the report itself: only supervisors see it, and nothing
    sent to or about the reported account ever reads this table."""

    report = models.OneToOneField(
        Report, on_delete=models.CASCADE, related_name="reporter_identity"
    )
    account_id = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # A keyed hash of the strongest identifier above, so reporters can be counted (and, later,
    # their reliability measured) without reading who they are. Empty when nothing identifies them.
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    # Set once the report's case was decided and counted in the reporter's ReporterRecord, so a
    # reopened and decided-again case does not count the same report twice.
    outcome_counted = models.BooleanField(default=False)
    # The reporter asked to be e-mailed at `email` (ReporterNotice): giving an address on the
    # public forms asks for it; the platform's API says so with `reporter.notify`.
    notify = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "reporter identities"

    def __str__(self):
        return f"reporter of {self.report_id}"


class ReporterNotice(models.Model):
    """An e-mail to the person who made a report (moderation/notices): that it was received, and
    later whether action was taken. At most one of each kind per report, so a job run twice
    sends once. The address is read from ReporterIdentity when sending, never copied here."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "Report received"
        OUTCOME = "outcome", "Outcome"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    class Outcome(models.TextChoices):
        # All a reporter is told: never which action, against whom, or by whom.
        ACTIONED = "actioned", "Action taken"
        NO_ACTION = "no_action", "No violation found"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=8, choices=Kind)
    # For an outcome notice, what the decision found when the notice was made.
    outcome = models.CharField(max_length=9, choices=Outcome, blank=True)
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why the last attempt failed (the reporter's address taken out).
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "kind"], name="one_notice_per_report_kind"),
            models.CheckConstraint(
                condition=models.Q(kind="outcome", outcome__in=["actioned", "no_action"])
                | models.Q(kind="received", outcome=""),
                name="notice_outcome_only_on_outcome",
            ),
        ]
        indexes = [
            # The sweep looks for pending notices that are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="notice_pending_due",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} notice for report {self.report_id}"


class ReporterRecord(models.Model):
    """How often a reporter (by fingerprint, never by who they are) was right: kept as counters
    updated when their cases are decided, so intake reads one row instead of their history."""

    fingerprint = models.CharField(max_length=64, unique=True)
    # Decided cases this reporter reported (each case counted once per decision it got).
    decided = models.PositiveIntegerField(default=0)
    # Of those, decided as a violation.
    upheld = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(upheld__lte=models.F("decided")),
                name="reporter_upheld_within_decided",
            )
        ]

    def __str__(self):
        return f"reporter record {self.pk}"

    def share(self, min_reports: int) -> float | None:
        """Share of decided reports upheld; None below `min_reports` decided."""
        return self.upheld / self.decided if self.decided >= min_reports else None


class Flag(models.Model):
    """An automated signal (classifier, hash matcher) about a content item."""

    content_item = models.ForeignKey(ContentItem, on_delete=models.PROTECT, related_name="flags")
    case = models.ForeignKey("moderation.Case", on_delete=models.PROTECT, related_name="flags")
    source = models.CharField(max_length=100)
    external_id = models.CharField(max_length=255)
    category = models.CharField(max_length=32, choices=Category)
    score = models.FloatField()
    model_version = models.CharField(max_length=100, blank=True)
    involves_child = models.BooleanField(default=False)
    submitted_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="flag_idempotency_key"),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=1), name="flag_score_0_1"
            ),
        ]

    def __str__(self):
        return f"{self.source}:{self.external_id}"


class Media(models.Model):
    """An uploaded or fetched file, in private storage, with its hashes once the job has run."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"

    content_item = models.ForeignKey(ContentItem, on_delete=models.PROTECT, related_name="media")
    report = models.ForeignKey(
        Report, on_delete=models.PROTECT, null=True, blank=True, related_name="media"
    )
    flag = models.ForeignKey(
        Flag, on_delete=models.PROTECT, null=True, blank=True, related_name="media"
    )
    # The message of a conversation it was attached to, when it came with one.
    message = models.ForeignKey(
        "reports.Message",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
    )
    # Named by SHA-256 in private storage (reports/media.py), so identical files are stored once.
    # Never the uploader's file name on disk: it may carry personal data or path tricks.
    file = models.FileField(max_length=200)
    original_filename = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=5, choices=Kind, default=Kind.IMAGE)
    mime = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # Indexed: search finds media by MD5 (an exchange's or an investigator's hash).
    md5 = models.CharField(max_length=32, blank=True, db_index=True)
    pdq = models.CharField(max_length=64, blank=True)
    pdq_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    phash = models.CharField(max_length=16, blank=True)
    dhash = models.CharField(max_length=16, blank=True)
    # As found in the file: recorded, not applied (the PDQ reference hashes pixels as stored).
    exif_orientation = models.PositiveSmallIntegerField(null=True, blank=True)
    # Videos (reports/video.py): as the container states them at intake, then as decoded.
    container = models.CharField(max_length=10, blank=True)
    codec = models.CharField(max_length=32, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    frame_rate = models.FloatField(null=True, blank=True)
    # Degrees clockwise a player turns the picture: recorded, not applied (as EXIF orientation).
    rotation = models.PositiveSmallIntegerField(null=True, blank=True)
    cluster = models.ForeignKey(
        "moderation.Cluster", on_delete=models.SET_NULL, null=True, blank=True, related_name="media"
    )
    # Set when the exact hashes are known but the image could not be decoded for the others.
    unhashable_reason = models.CharField(max_length=200, blank=True)
    hashed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "media"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(report__isnull=False) | models.Q(flag__isnull=False),
                name="media_belongs_to_report_or_flag",
            ),
            models.CheckConstraint(
                condition=models.Q(hashed_at__isnull=True) | ~models.Q(sha256=""),
                name="hashed_media_has_sha256",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="video") | models.Q(duration__isnull=True),
                name="only_videos_have_a_duration",
            ),
        ]

    def __str__(self):
        return self.sha256 or f"media {self.pk} (not hashed yet)"

    @property
    def is_video(self) -> bool:
        return self.kind == self.Kind.VIDEO


class VideoHash(models.Model):
    """A video's vPDQ: the PDQ of its sampled frames, with frame number, timestamp and quality.

    Kept beside the media row, not on it: an hour at one frame a second is 3,600 frames, which
    lists of media never need to read."""

    media = models.OneToOneField(
        Media, on_delete=models.CASCADE, primary_key=True, related_name="video_hash"
    )
    # How the frames were chosen (reports/video.py): seconds of video per hashed frame (0: every
    # frame) and the pruning distance (null: none).
    seconds_per_hash = models.FloatField()
    prune_distance = models.PositiveSmallIntegerField(null=True, blank=True)
    frames_decoded = models.PositiveIntegerField()
    # One line per hashed frame, as the reference tool writes them: frame,quality,pdq,timestamp.
    frames = models.TextField(blank=True)
    # Why hashing stopped before the end of the file (a damaged file, a limit), or "".
    stopped = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"vPDQ of media {self.media_id}"


class VideoStrip(models.Model):
    """A video's keyframe strip (reports/thumbnails.py): small stills at evenly spaced times,
    side by side in one JPEG in private storage, so a reviewer can judge a video without playing
    it. Made by a job after hashing (moderation/banks/strips.py), or when a case page asks.

    No `made_at`: asked for, not made yet. Made with no `timestamps`: no still could be made
    (`stopped` says why)."""

    media = models.OneToOneField(
        Media, on_delete=models.CASCADE, primary_key=True, related_name="video_strip"
    )
    # The sprite in private storage ("" when there is none), served only through the case's
    # audited media views.
    file = models.FileField(max_length=200, blank=True)
    # Seconds from the start of the video, of each still in order (left to right in the file).
    timestamps = models.JSONField(default=list, blank=True)
    tile_width = models.PositiveSmallIntegerField(default=0)
    tile_height = models.PositiveSmallIntegerField(default=0)
    # Why fewer stills than asked for (a damaged file, a limit), or "".
    stopped = models.CharField(max_length=200, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    made_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"keyframe strip of media {self.media_id}"

    @property
    def ready(self) -> bool:
        return self.made_at is not None and bool(self.timestamps) and bool(self.file)


class Participant(models.Model):
    """An account taking part in a reported conversation, with its age as the platform stated or
    estimated it. The role follows from the age: a minor under 18, an adult at 18 or over,
    unknown without an age."""

    class Role(models.TextChoices):
        MINOR = "minor", "Minor"
        ADULT = "adult", "Adult"
        UNKNOWN = "unknown", "Age unknown"

    class AgeSource(models.TextChoices):
        STATED = "stated", "Stated"
        ESTIMATED = "estimated", "Estimated"
        # Said by the person reporting on the public form: not the platform's record.
        REPORTED = "reported", "Said by the person reporting"

    conversation = models.ForeignKey(
        ContentItem, on_delete=models.PROTECT, related_name="participants"
    )
    # Indexed: an account's conversations are found by it (account cases, the account page).
    account_id = models.CharField(max_length=255, db_index=True)
    handle = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    age_source = models.CharField(max_length=9, choices=AgeSource, blank=True)
    role = models.CharField(max_length=7, choices=Role, default=Role.UNKNOWN)
    # The account the reports are about (the conversation's owner_id, or named by a report).
    reported = models.BooleanField(default=False)
    # A report about the conversation came from this participant (a reporter's account only
    # marks a participant: who reported stays in ReporterIdentity, for supervisors).
    is_reporter = models.BooleanField(default=False)
    # Not in the participants a report listed: a message named it as sender (recorded, not lost).
    listed = models.BooleanField(default=True)
    # The account's e-mail address as the platform holds it, for an authority's report.
    email = models.EmailField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "account_id"], name="one_participant_per_account"
            ),
            models.CheckConstraint(
                condition=models.Q(age__isnull=True, age_source="", role="unknown")
                | models.Q(age__lt=18, role="minor") & ~models.Q(age_source="")
                | models.Q(age__gte=18, role="adult") & ~models.Q(age_source=""),
                name="participant_role_follows_age",
            ),
        ]

    def __str__(self):
        return self.handle or self.account_id

    @staticmethod
    def role_for(age: int | None) -> str:
        if age is None:
            return Participant.Role.UNKNOWN
        return Participant.Role.MINOR if age < 18 else Participant.Role.ADULT


class Message(models.Model):
    """A message of a reported conversation: one the reporter pointed at, or one of its
    neighbours the platform sent for context. Stored once per (conversation, platform id):
    a message sent again (by a later report, or twice in one) is the same message."""

    conversation = models.ForeignKey(ContentItem, on_delete=models.PROTECT, related_name="messages")
    platform_id = models.CharField(max_length=255)
    sender = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="messages")
    sent_at = models.DateTimeField()
    text = models.TextField(blank=True, max_length=10000)
    # A report pointed at it (not only sent as context); never unset by a later report.
    reported = models.BooleanField(default=False)
    # The report that first brought it.
    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="messages")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "platform_id"], name="one_message_per_platform_id"
            ),
        ]
        indexes = [
            # The thread, in the order the messages were sent (the view pages through it).
            models.Index(fields=["conversation", "sent_at", "id"], name="message_thread_order"),
            # Its reported messages, in the same order: the first one (the case page's jump to
            # it, and its page) and the decision form's choices read a few entries, not the
            # thread up to them.
            models.Index(
                fields=["conversation", "sent_at", "id"],
                condition=models.Q(reported=True),
                name="message_reported_order",
            ),
        ]

    def __str__(self):
        return f"message {self.platform_id}"


class Link(models.Model):
    """A URL found in a report, a flag or a message, fetched by a worker (reports/links.py) so
    that an image or video behind it is hashed and matched like an upload."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be fetched"
        FETCHED = "fetched", "Fetched"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    content_item = models.ForeignKey(ContentItem, on_delete=models.PROTECT, related_name="links")
    report = models.ForeignKey(
        Report, on_delete=models.PROTECT, null=True, blank=True, related_name="links"
    )
    flag = models.ForeignKey(
        Flag, on_delete=models.PROTECT, null=True, blank=True, related_name="links"
    )
    message = models.ForeignKey(
        Message, on_delete=models.PROTECT, null=True, blank=True, related_name="links"
    )
    url = models.URLField(max_length=2000)
    # SHA-256 of the URL as found: a link met twice on one item is fetched once.
    url_key = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why it was refused or failed, in words (never a secret: the URL's own words only).
    error = models.CharField(max_length=300, blank=True)
    final_url = models.URLField(max_length=2000, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    media = models.ForeignKey(
        Media, on_delete=models.PROTECT, null=True, blank=True, related_name="links"
    )
    fetched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_item", "url_key"], name="one_link_per_item"),
            models.CheckConstraint(
                condition=models.Q(report__isnull=False) | models.Q(flag__isnull=False),
                name="link_belongs_to_report_or_flag",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="fetched") | models.Q(media__isnull=False),
                name="fetched_link_has_media",
            ),
        ]
        indexes = [
            # The sweeps look for links still pending long after they were recorded.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="link_pending_since",
            ),
        ]

    def __str__(self):
        return self.url
