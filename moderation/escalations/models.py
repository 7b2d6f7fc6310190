"""Reports to child-protection authorities (NCMEC's CyberTipline first).

An Escalation gathers one reported account's escalated content for one authority. It moves
draft → awaiting approval → assembling → ready → submitted → acknowledged, or to failed (with the
reason) or withdrawn. A second person approves before anything is assembled (the two-person rule);
an RQ job assembles the packet (report XML, one fileDetails XML per file, the evidence, a summary
and a manifest) and records the packet's SHA-256 for chain of custody. Each file it carries is an
EscalationFile; each request to the authority's API is a SubmissionAttempt.

Evidence for a submitted report is preserved until `preserve_until` (at least a year after
submission, 18 U.S.C. 2258A as amended in 2024), or longer under a supervisor's legal hold.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# The CyberTipline's incidentType values, verbatim from the schema.
INCIDENT_TYPES = [
    "Child Pornography (possession, manufacture, and distribution)",
    "Child Sex Trafficking",
    "Child Sex Tourism",
    "Child Sexual Molestation",
    "Misleading Domain Name",
    "Misleading Words or Digital Images on the Internet",
    "Online Enticement of Children for Sexual Acts",
    "Unsolicited Obscene Material Sent to a Child",
]
# The CyberTipline's reportAnnotations, with words for people.
REPORT_ANNOTATIONS = {
    "sextortion": "Sextortion",
    "csamSolicitation": "Solicitation of child sexual abuse material",
    "minorToMinorInteraction": "Interaction between minors",
    "spam": "Spam",
    "sadisticOnlineExploitation": "Sadistic online exploitation",
}


class Escalation(models.Model):
    """A report to an authority about one reported account, gathering all its escalated content."""

    class Authority(models.TextChoices):
        NCMEC = "ncmec", "NCMEC CyberTipline"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        ASSEMBLING = "assembling", "Assembling"
        READY = "ready", "Ready"
        SUBMITTED = "submitted", "Submitted"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        FAILED = "failed", "Failed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class SubmittedVia(models.TextChoices):
        MANUAL = "manual", "Downloaded and submitted by a supervisor"
        API = "api", "Submitted through the authority's API"

    # Still gathering content: a newly escalated case of the same account joins it. Once approved,
    # a packet is fixed; content escalated later opens a new (supplemental) escalation.
    GATHERING = ("draft", "awaiting_approval")
    # Not yet handed to the authority.
    OPEN = ("draft", "awaiting_approval", "assembling", "ready", "failed")
    # Handed over: evidence is preserved.
    SUBMITTED_STATES = ("submitted", "acknowledged")

    IncidentType = models.TextChoices("IncidentType", [(t, t) for t in INCIDENT_TYPES])

    authority = models.CharField(max_length=10, choices=Authority, default=Authority.NCMEC)
    # The reported account on the platform ("" when the content's owner is unknown).
    owner_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.DRAFT)
    cases = models.ManyToManyField("moderation.Case", related_name="escalations")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    opened_reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    # What the report says, prepared by the escalating reviewer (or a senior) before approval.
    incident_type = models.CharField(max_length=80, choices=IncidentType, default=INCIDENT_TYPES[0])
    incident_summary = models.TextField(blank=True, max_length=5000)
    annotations = models.JSONField(default=list, blank=True)
    # A child in immediate danger: sent as escalateToHighPriority with the reason, and ahead of
    # everything else in Vigil (approval list, assembly and submission queues).
    urgent = models.BooleanField(default=False)
    urgent_reason = models.CharField(max_length=500, blank=True)

    # The two-person rule: who asked for approval, and who (someone else) gave it.
    approval_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approval_requested_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Why an approver sent it back to draft, or why it was withdrawn.
    review_note = models.CharField(max_length=500, blank=True)

    # Assembly progress, written by the job and polled by the page and the API.
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_step = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    # Details for people, e.g. each schema validation error.
    failure_details = models.JSONField(default=list, blank=True)

    # The packet, in private storage; its SHA-256 is the chain-of-custody fingerprint.
    packet = models.FileField(max_length=200, blank=True)
    packet_sha256 = models.CharField(max_length=64, blank=True)
    packet_size = models.PositiveBigIntegerField(default=0)
    # {name in packet: sha256} of every file in the packet, as in its manifest.json.
    manifest = models.JSONField(default=dict, blank=True)
    assembled_at = models.DateTimeField(null=True, blank=True)

    # The authority's report id (CyberTipline reportId), and when and how it was handed over.
    report_id = models.PositiveBigIntegerField(null=True, blank=True)
    submitted_via = models.CharField(max_length=10, choices=SubmittedVia, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # An API submission (moderation/escalations/submission.py) is under way since this time: the report id is
    # saved as soon as the authority issues it, so the escalation stays "ready" until `finish`
    # succeeds. Meanwhile nobody may mark it submitted by hand. The lease is held by the one
    # worker sending its requests, so a job run twice never opens a second report.
    submission_started_at = models.DateTimeField(null=True, blank=True)
    submission_lease = models.CharField(max_length=32, blank=True)
    submission_lease_until = models.DateTimeField(null=True, blank=True)

    # Preservation: evidence is kept until preserve_until (set on submission), and while a legal
    # hold is in force (legal_hold_until None = until a supervisor lifts it).
    preserve_until = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    legal_hold_until = models.DateTimeField(null=True, blank=True)
    legal_hold_reason = models.CharField(max_length=500, blank=True)
    legal_hold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    evidence_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One gathering escalation per reported account and authority, as the reporting API
            # expects one report per reported user.
            models.UniqueConstraint(
                fields=["authority", "owner_id"],
                condition=Q(status__in=["draft", "awaiting_approval"]) & ~Q(owner_id=""),
                name="one_gathering_escalation_per_account",
            ),
            models.UniqueConstraint(
                fields=["authority", "report_id"],
                condition=Q(report_id__isnull=False),
                name="one_escalation_per_report_id",
            ),
            models.CheckConstraint(
                condition=~Q(urgent=True) | ~Q(urgent_reason=""),
                name="urgent_escalation_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["assembling", "ready", "submitted", "acknowledged"])
                | Q(approved_by__isnull=False),
                name="assembled_escalation_was_approved",
            ),
            models.CheckConstraint(
                condition=~Q(approved_by__isnull=False)
                | ~Q(approved_by=models.F("approval_requested_by")),
                name="escalation_approved_by_another_person",
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | ~Q(packet_sha256=""),
                name="ready_escalation_has_packet",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_reason=""),
                name="failed_escalation_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["submitted", "acknowledged"])
                | (Q(submitted_at__isnull=False) & Q(preserve_until__isnull=False)),
                name="submitted_escalation_is_preserved",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-urgent", "created_at"], name="escalation_by_status"),
            models.Index(
                fields=["preserve_until"],
                condition=Q(evidence_deleted_at__isnull=True, preserve_until__isnull=False),
                name="escalation_preserved",
            ),
        ]

    def __str__(self):
        return f"{self.get_authority_display()} escalation {self.pk} ({self.status})"

    @property
    def failed_in_assembly(self) -> bool:
        """Failed before any packet was made (a failure at submission comes after ready)."""
        return self.status == self.Status.FAILED and not self.packet_sha256

    @property
    def manual_submission_open(self) -> bool:
        """A supervisor may submit the packet by hand and record the report id: it is ready, or
        its API submission failed before the authority opened a report (the packet is fine)."""
        if self.submission_started_at is not None or not self.packet_sha256:
            return False
        return self.status == self.Status.READY or (
            self.status == self.Status.FAILED and self.report_id is None
        )

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_done / self.progress_total))


class EscalationFile(models.Model):
    """One evidence file in an escalation's packet, and its state at the authority."""

    escalation = models.ForeignKey(Escalation, on_delete=models.PROTECT, related_name="files")
    media = models.ForeignKey("reports.Media", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("moderation.Case", on_delete=models.PROTECT, related_name="+")
    # Its path inside the packet, e.g. "files/0001-<sha256>.jpg".
    name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    md5 = models.CharField(max_length=32, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    # From the media-view log: did anyone at the platform look at this file?
    viewed_by_esp = models.BooleanField(default=False)
    # The authority's id for the uploaded file, and when its fileDetails were accepted.
    remote_file_id = models.CharField(max_length=100, blank=True)
    details_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["escalation", "media"], name="one_file_per_media"),
            models.UniqueConstraint(fields=["escalation", "name"], name="unique_packet_file_name"),
        ]

    def __str__(self):
        return f"{self.name} in escalation {self.escalation_id}"


class SubmissionAttempt(models.Model):
    """One request to the authority's reporting API and what came of it."""

    class Step(models.TextChoices):
        OPEN = "open", "Open report"
        UPLOAD = "upload", "Upload file"
        FILE_DETAILS = "file_details", "File details"
        FINISH = "finish", "Finish report"
        RETRACT = "retract", "Retract report"

    class Outcome(models.TextChoices):
        OK = "ok", "Accepted"
        RETRY = "retry", "Will retry"
        FAILED = "failed", "Failed"

    escalation = models.ForeignKey(
        Escalation, on_delete=models.PROTECT, related_name="submission_attempts"
    )
    number = models.PositiveIntegerField()
    step = models.CharField(max_length=20, choices=Step)
    file = models.ForeignKey(
        EscalationFile, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    # None when no HTTP answer came (connection refused, timeout, TLS error).
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["escalation", "number"], name="one_submission_attempt_per_number"
            )
        ]

    def __str__(self):
        return f"{self.step} attempt {self.number} for escalation {self.escalation_id}"
