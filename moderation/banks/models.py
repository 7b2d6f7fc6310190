"""Hash banks: lists of hashes of known material, and what a match to them means."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from moderation.cases.route_rules import KNOWN_MATERIAL_POLICY


class SignalType(models.TextChoices):
    PDQ = "pdq", "PDQ (256-bit perceptual)"
    PHASH = "phash", "pHash (64-bit perceptual)"
    DHASH = "dhash", "dHash (64-bit perceptual)"
    MD5 = "md5", "MD5 (exact)"
    SHA256 = "sha256", "SHA-256 (exact)"
    VIDEO_MD5 = "video_md5", "Video MD5 (exact)"
    VIDEO_SHA256 = "video_sha256", "Video SHA-256 (exact)"
    VPDQ = "vpdq", "vPDQ (video, frame by frame)"


# Hex digits per value, and which signals match by distance rather than equality.
HEX_LENGTH = {
    "pdq": 64,
    "phash": 16,
    "dhash": 16,
    "md5": 32,
    "sha256": 64,
    "video_md5": 32,
    "video_sha256": 64,
}
# Every signal type a bank may hold: the hex ones, and vPDQ (a list of frames: reports/vpdq.py;
# its entries' value is the SHA-256 of its signal string, and its frames are BankEntryFrame rows).
SIGNAL_TYPES = (*HEX_LENGTH, "vpdq")
# Exact signals of the same digest match each other: the same bytes are the same file, whichever
# list called it a video.
SAME_DIGEST = {"md5": ("md5", "video_md5"), "sha256": ("sha256", "video_sha256")}
PERCEPTUAL = ("pdq", "phash", "dhash")
DEFAULT_THRESHOLDS = {"pdq": 31, "phash": 10, "dhash": 10, "vpdq": 31}
# Beyond these a "match" is noise (a quarter of the bits), and the index sizes assume them.
MAX_THRESHOLD = {"pdq": 64, "phash": 16, "dhash": 16, "vpdq": 64}
# PDQ hashes below this quality are too weak to match on (SPEC.md).
MIN_PDQ_QUALITY = 50


class HashBank(models.Model):
    class Policy(models.TextChoices):
        RAISE_PRIORITY = "raise_priority", "Raise the case's priority"
        ROUTE = "route", "Route the case to a queue"
        ACT_AND_ESCALATE = (
            KNOWN_MATERIAL_POLICY,
            ("Known material: top of the queue, suspend, remove and escalate at once"),
        )

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True)
    # Where the hashes came from (e.g. "NCMEC hash sharing, 2026-11"), for audit and trust.
    source = models.CharField(max_length=200, blank=True)
    signal_types = models.JSONField(default=list, help_text="Signal types this bank holds.")
    thresholds = models.JSONField(
        default=dict, blank=True, help_text='Match threshold per signal type, e.g. {"pdq": 31}.'
    )
    # vPDQ's comparison (reports/vpdq.py; the frame distance is thresholds["vpdq"]): frames below
    # this quality are left out on both sides, and a video matches an entry when at least these
    # shares of its own frames and of the entry's frames match.
    vpdq_quality = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    vpdq_query_percent = models.FloatField(
        default=0.0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    vpdq_compared_percent = models.FloatField(
        default=80.0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    policy = models.CharField(max_length=20, choices=Policy, default=Policy.RAISE_PRIORITY)
    # An allow-list of known false positives (logos, memes): its matches suppress the other
    # banks' matches of the same media, which then neither route nor act.
    is_allow_list = models.BooleanField(default=False)
    # Published to partner platforms as a feed (moderation/exchanges: FeedToken).
    is_published = models.BooleanField(default=False)
    # Flood guard: an entry matching more than this many distinct media within the window is
    # quarantined (its policy stops acting) and supervisors are told. 0 switches it off.
    flood_limit = models.PositiveIntegerField(default=50)
    flood_window_minutes = models.PositiveIntegerField(default=60)
    route_to = models.ForeignKey(
        "moderation.Queue", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(policy="route") | Q(route_to__isnull=False),
                name="routing_bank_names_a_queue",
            )
        ]

    def __str__(self):
        return self.name

    def threshold(self, signal_type: str) -> int:
        value = self.thresholds.get(signal_type, DEFAULT_THRESHOLDS.get(signal_type, 0))
        return value if isinstance(value, int) and 0 <= value <= MAX_THRESHOLD[signal_type] else 0

    def clean(self):
        errors = {}
        if (
            not isinstance(self.signal_types, list)
            or not self.signal_types
            or any(t not in SIGNAL_TYPES for t in self.signal_types)
        ):
            errors["signal_types"] = f"A list of signal types from: {', '.join(SIGNAL_TYPES)}."
        if not isinstance(self.thresholds, dict):
            errors["thresholds"] = 'An object of whole numbers, e.g. {"pdq": 31, "phash": 10}.'
        else:
            for signal_type, value in self.thresholds.items():
                top = MAX_THRESHOLD.get(signal_type)
                if (
                    top is None
                    or isinstance(value, bool)
                    or not isinstance(value, int)
                    or not 0 <= value <= top
                ):
                    errors["thresholds"] = (
                        f"{signal_type}: a whole number from 0 to {top} is needed"
                        if top is not None
                        else f"{signal_type} is not a perceptual signal type (pdq, phash, dhash, "
                        "vpdq)"
                    )
        if errors:
            raise ValidationError(errors)


class BankEntry(models.Model):
    bank = models.ForeignKey(HashBank, on_delete=models.PROTECT, related_name="entries")
    signal_type = models.CharField(max_length=16, choices=SignalType)
    # Lower-case hex.
    value = models.CharField(max_length=64)
    labels = models.JSONField(default=list, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    # Provenance of an entry learnt from review (moderation/banks/confirmed.py): the decision that
    # found the material CSAM (its case and reviewer with it) and the media it was hashed from.
    decision = models.ForeignKey(
        "moderation.Decision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bank_entries",
    )
    media = models.ForeignKey(
        "reports.Media", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Provenance of an entry from a hash exchange (moderation/exchanges): which programme, its
    # own id for it (a withdrawal at source names it), and when a sync first and last saw it.
    exchange = models.ForeignKey(
        "moderation.Exchange",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
    )
    source_id = models.CharField(max_length=255, blank=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Flood guard (HashBank.flood_limit): while quarantined, its matches are recorded but its
    # bank's policy does not act on them; a supervisor releases or removes it.
    quarantined_at = models.DateTimeField(null=True, blank=True)
    quarantine_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name_plural = "bank entries"
        constraints = [
            models.UniqueConstraint(
                fields=["bank", "signal_type", "value"],
                condition=Q(removed_at__isnull=True),
                name="one_live_entry_per_hash_per_bank",
            )
        ]
        indexes = [
            models.Index(
                fields=["signal_type", "value"],
                condition=Q(removed_at__isnull=True),
                name="bank_entry_lookup",
            ),
            # The removals an index snapshot must still leave out (moderation/banks/snapshot.py).
            models.Index(
                fields=["signal_type", "removed_at"],
                condition=Q(removed_at__isnull=False),
                name="bank_entry_removals",
            ),
            # One import's entries, for the rematch that follows it (a bank's FK index alone
            # makes that a scan of the bank: 4.2 s for one line into 10M, measured).
            models.Index(fields=["bank", "added_at"], name="bank_entry_import"),
            # Quarantined entries: few, counted for supervisors' inbox on every page.
            models.Index(
                fields=["quarantined_at"],
                condition=Q(quarantined_at__isnull=False),
                name="bank_entry_quarantined",
            ),
            # An exchange's withdrawal names its own id for the entry.
            models.Index(
                fields=["exchange", "source_id"],
                condition=Q(exchange__isnull=False),
                name="bank_entry_exchange_source",
            ),
        ]

    def __str__(self):
        return f"{self.signal_type} {self.value}"


class BankEntryFrame(models.Model):
    """One frame of a vPDQ entry, in the order its signal lists them."""

    entry = models.ForeignKey(BankEntry, on_delete=models.CASCADE, related_name="frames")
    position = models.PositiveIntegerField()
    pdq = models.CharField(max_length=64)
    quality = models.PositiveSmallIntegerField()
    timestamp = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "position"], name="one_frame_per_position"),
            models.CheckConstraint(
                condition=Q(quality__lte=100) & Q(timestamp__gte=0), name="frame_quality_and_time"
            ),
        ]

    def __str__(self):
        return f"frame {self.position} of entry {self.entry_id}"


class Match(models.Model):
    """A media file matched a bank entry."""

    media = models.ForeignKey("reports.Media", on_delete=models.CASCADE, related_name="matches")
    entry = models.ForeignKey(BankEntry, on_delete=models.PROTECT, related_name="matches")
    signal_type = models.CharField(max_length=16, choices=SignalType)
    distance = models.PositiveSmallIntegerField()
    # For PDQ: which of the media's eight rotations/mirror images hit (0 = as stored).
    variant = models.PositiveSmallIntegerField(null=True, blank=True)
    # Videos (moderation/banks/video_matching.py): the time ranges that matched, in seconds, of
    # the media ("start", "end") and of the entry's video ("entry_start", "entry_end"), and for a
    # vPDQ entry the shares of the media's and the entry's frames that matched.
    segments = models.JSONField(default=list, blank=True)
    query_percent = models.FloatField(null=True, blank=True)
    compared_percent = models.FloatField(null=True, blank=True)
    matched_at = models.DateTimeField(default=timezone.now)
    # Governance: an allow-list bank's match of the same media suppresses this one (it neither
    # routes nor acts); an entry withdrawn at source, or removed, ends its effects from then on.
    suppressed_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="suppressing"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "matches"
        constraints = [
            models.UniqueConstraint(fields=["media", "entry"], name="one_match_per_media_entry")
        ]

    def __str__(self):
        return f"media {self.media_id} ~ entry {self.entry_id} ({self.distance})"


class BankVersion(models.Model):
    """One row, bumped whenever bank entries change, so every process knows to rebuild its
    in-memory index (moderation/banks/matching.py)."""

    version = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"bank version {self.version}"

    @classmethod
    def bump(cls) -> None:
        updated = cls.objects.filter(pk=1).update(version=models.F("version") + 1)
        if not updated:
            cls.objects.get_or_create(pk=1, defaults={"version": 1})

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=1).values_list("version", flat=True).first() or 0


class BankWriteGate(models.Model):
    """One row. Every transaction that adds or removes bank entries holds it shared from its start
    (moderation/banks/snapshot.bank_write_gate); taking an index snapshot holds it exclusively for
    a moment, so that every entry id up to the snapshot's high-water mark is committed when the
    mark is read and none can appear below it afterwards."""

    def __str__(self):
        return "bank write gate"


class IndexSnapshot(models.Model):
    """An immutable copy of one signal type's bank entries for matching, written to files once
    and memory-mapped by every process (moderation/banks/snapshot.py). It holds every entry with
    an id up to `high_water` not removed before `as_of`; entries added since (a higher id) and
    removals since are read as a small delta on top."""

    signal_type = models.CharField(max_length=16, choices=SignalType)
    # Names the files: unique, so two test databases or two deployments never share them.
    key = models.CharField(max_length=32, unique=True)
    high_water = models.BigIntegerField()
    as_of = models.DateTimeField()
    entries = models.PositiveBigIntegerField()
    # The largest threshold the multi-index was planned for (a larger one falls back to a scan).
    planned_threshold = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["signal_type", "-id"], name="index_snapshot_latest")]

    def __str__(self):
        return f"{self.signal_type} snapshot {self.key} ({self.entries} entries)"


class Cluster(models.Model):
    """Near-duplicate media: every member is within the PDQ threshold of another member."""

    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"cluster {self.pk}"


class ClusterLock(models.Model):
    """One row, locked while a media file joins a cluster, so two workers hashing near-copies
    at the same moment see each other instead of starting two clusters."""

    def __str__(self):
        return "cluster lock"
