"""Submitting an escalation to NCMEC's CyberTipline through its API, step by step.

A supervisor starts it (escalation_submit) on a ready escalation; the `submit_escalation` job
(moderation/escalations/jobs.py, on the escalation's queue) runs submission_run, which resumes
wherever the last run stopped:
1. open the report (POST submit) — the reportId is saved the moment it comes back, so a second
   report is never opened for the same escalation;
2. for each evidence file: upload it (streamed from private storage a chunk at a time, so memory
   stays bounded however large a video is, and checked against its SHA-256 on the way: a file
   that changed in storage is cut off before its last bytes, so the authority never receives it
   whole; its fileId saved at once), then send its fileDetails (details_sent_at saved);
3. for each conversation's transcript (the packet's conversation/<n>.txt, which the report only
   excerpts): upload it the same way, streamed from the approved packet and checked against the
   packet's manifest, then send its fileDetails; each step recorded as it is accepted
   (moderation/escalations/transcript_upload.py), so it is never sent twice either;
4. finish the report, then escalations.escalation_mark_submitted(via="api").
Every request is logged as a numbered SubmissionAttempt. While it runs (submission_started_at
set) nobody may mark the escalation submitted by hand or withdraw it.

Errors:
- The authority refuses (a non-zero responseCode, or a 4xx; or our own XML fails the schema):
  the escalation fails with the authority's words, no retry. Sending it again unchanged would be
  refused again.
- No answer, a timeout, a 5xx: tried again after the next of CYBERTIP_RETRY_INTERVALS (the job
  hands RQ a `Retry`); after the last, the escalation fails with the reason. Without a worker
  (embedded mode) nothing can wait for a retry, so the first such failure fails it.

After a failure a supervisor may "submit again": it resumes from the step that failed (the report
already opened stays the one used, files already accepted are not sent again). Vigil never
retracts on its own: a report opened and never finished is not processed by NCMEC. If the
supervisor gives up on the API for this escalation (to submit by download instead), they retract
the opened report first (escalation_retract_submission), which also makes it ready for a manual
submission. A finished report is never retracted from Vigil: it is in NCMEC's hands.

Known limit: if the answer to `submit` is lost (a timeout after NCMEC created the report), the
retry opens another report; the first is never finished, so it is never processed. `finish` is
only ever sent for the report id Vigil saved, so a report is never submitted twice.
"""

import hashlib
import secrets
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from moderation.audit.services import audit_record
from moderation.escalations import cybertip, submitter, transcript_upload
from moderation.escalations.jobs import submit_escalation
from moderation.escalations.models import Escalation, EscalationFile, SubmissionAttempt
from moderation.escalations.packet import AssemblyFailed, packet_report_xml
from moderation.escalations.services import (
    EscalationStateError,
    check_no_submission_in_progress,
    escalation_mark_submitted,
    job_queue,
)
from moderation.outbox.services import enqueue

S = Escalation.Status
Step = SubmissionAttempt.Step
Outcome = SubmissionAttempt.Outcome
API_LABEL = "CyberTipline API"


def configured() -> bool:
    return submitter.configured()


def lease_seconds() -> int:
    """How long one worker may hold a submission between two requests before another may take it
    over (a worker killed mid-way): longer than any single request can take."""
    return max(600, 4 * settings.CYBERTIP_TIMEOUT_SECONDS)


def can_submit_again(escalation: Escalation) -> bool:
    """A submission that failed (not its assembly) can be resumed: the packet is there."""
    return (
        escalation.status == S.FAILED
        and bool(escalation.packet_sha256)
        and escalation.submission_attempts.exists()
    )


def stalled(escalation: Escalation, now=None) -> bool:
    """A submission under way whose job is gone (Redis lost it, its worker was killed): no worker
    holds its lease and nothing was sent for longer than any retry waits. Nothing else would ever
    run it, and meanwhile it may not be marked, withdrawn or retracted: a supervisor resumes it."""
    if escalation.submission_started_at is None:
        return False
    now = now or timezone.now()
    if escalation.submission_lease_until is not None and escalation.submission_lease_until >= now:
        return False
    quiet = timedelta(seconds=lease_seconds() + max(settings.CYBERTIP_RETRY_INTERVALS, default=0))
    last = escalation.submission_attempts.aggregate(last=Max("started_at"))["last"]
    latest = max(t for t in (escalation.submission_started_at, last) if t is not None)
    return latest < now - quiet


def can_start(escalation: Escalation) -> bool:
    return (escalation.submission_started_at is None or stalled(escalation)) and (
        escalation.status == S.READY or can_submit_again(escalation)
    )


def can_retract(escalation: Escalation) -> bool:
    """A report opened through the API and not finished, with no submission running."""
    return (
        escalation.report_id is not None
        and escalation.status in (S.READY, S.FAILED)
        and escalation.submission_started_at is None
        and escalation.submission_attempts.filter(step=Step.OPEN, outcome=Outcome.OK).exists()
    )


def _settle(
    escalation: Escalation,
    *,
    status: str,
    started: bool,
    failure: str = "",
    details: list[str] | None = None,
    extra: tuple[str, ...] = (),
) -> None:
    """Save the escalation's status and failure with its submission either started afresh
    (no worker holds it yet) or over: the lease always released. `extra`: more fields set."""
    escalation.status = status
    escalation.failure_reason, escalation.failure_details = failure[:500], (details or [])[:50]
    escalation.submission_started_at = timezone.now() if started else None
    escalation.submission_lease, escalation.submission_lease_until = "", None
    escalation.updated_at = timezone.now()
    escalation.save(
        update_fields=[
            "status",
            "failure_reason",
            "failure_details",
            "submission_started_at",
            "submission_lease",
            "submission_lease_until",
            "updated_at",
            *extra,
        ]
    )


def escalation_submit(*, escalation_id: int, user, ip: str | None = None) -> Escalation:
    """A supervisor sends a ready escalation (or resumes a failed submission) through the API."""
    if not configured():
        raise EscalationStateError(
            # Staff read this: no setting names (docs/cybertipline.md names them for administrators).
            "Submission through the CyberTipline API is not configured on this server; an "
            "administrator can enable it. Meanwhile, download the packet and submit it by hand."
        )
    with transaction.atomic(durable=True):
        escalation = Escalation.objects.select_for_update().get(pk=escalation_id)
        if not stalled(escalation):
            check_no_submission_in_progress(escalation, doing="submitted again")
        resuming = can_submit_again(escalation) or escalation.submission_started_at is not None
        if escalation.status != S.READY and not resuming:
            raise EscalationStateError(
                f"Escalation {escalation.pk} is {escalation.get_status_display().lower()}: only "
                "a ready escalation, or one whose submission failed, can be submitted."
            )
        before = {"status": escalation.status, "failure_reason": escalation.failure_reason}
        _settle(escalation, status=S.READY, started=True)
        audit_record(
            verb="escalation.submission_started",
            obj=escalation,
            actor=user,
            ip=ip,
            before=before,
            after={
                "status": S.READY,
                "resuming": resuming,
                "report_id": escalation.report_id,
                "packet_sha256": escalation.packet_sha256,
            },
        )

        enqueue(submit_escalation, escalation.pk, queue=job_queue(escalation))
    return escalation


@dataclass(frozen=True)
class RunResult:
    """What one run of the job came to: "submitted", "failed", "retry" (after retry_in
    seconds) or "skipped" (nothing to do, or another worker holds it)."""

    outcome: str
    retry_in: int | None = None


class _LeaseLost(Exception):
    pass


def _claim(escalation_id: int) -> str | None:
    """Take the submission for this worker, unless another live worker holds it."""
    token, now = secrets.token_hex(16), timezone.now()
    taken = (
        Escalation.objects.filter(
            pk=escalation_id, status=S.READY, submission_started_at__isnull=False
        )
        .filter(Q(submission_lease_until__isnull=True) | Q(submission_lease_until__lt=now))
        .update(
            submission_lease=token,
            submission_lease_until=now + timedelta(seconds=lease_seconds()),
        )
    )
    return token if taken else None


def _renew(escalation_id: int, token: str) -> None:
    renewed = Escalation.objects.filter(pk=escalation_id, submission_lease=token).update(
        submission_lease_until=timezone.now() + timedelta(seconds=lease_seconds())
    )
    if not renewed:
        raise _LeaseLost


def _release(escalation_id: int, token: str) -> None:
    Escalation.objects.filter(pk=escalation_id, submission_lease=token).update(
        submission_lease="", submission_lease_until=None
    )


class _Run:
    """One run: sends the remaining requests in order, logging each."""

    def __init__(
        self, escalation: Escalation, token: str, client: submitter.Submitter, can_retry: bool
    ):
        self.escalation, self.token, self.client = escalation, token, client
        self.can_retry = can_retry
        # Set when the last request failed for a passing reason and may be tried again.
        self.retry_in: int | None = None

    def call(self, step: str, request, *, file: EscalationFile | None = None):
        _renew(self.escalation.pk, self.token)
        started = timezone.now()
        try:
            reply = request()
        except submitter.SubmitterError as e:
            self.log(step, file, started, e.http_status, e.duration_ms, e.message, e)
            raise
        self.log(step, file, started, reply.http_status, reply.duration_ms, "", None)
        return reply

    def log(self, step, file, started, http_status, duration_ms, error, exc) -> None:
        if exc is None:
            outcome = Outcome.OK
        elif isinstance(exc, submitter.Unavailable) and self.next_retry() is not None:
            outcome = Outcome.RETRY
            self.retry_in = self.next_retry()
        else:
            outcome = Outcome.FAILED
        last = SubmissionAttempt.objects.filter(escalation=self.escalation).aggregate(
            n=Max("number")
        )["n"]
        SubmissionAttempt.objects.create(
            escalation=self.escalation,
            number=(last or 0) + 1,
            step=step,
            file=file,
            started_at=started,
            duration_ms=min(duration_ms, 2**31 - 1),
            http_status=http_status,
            error=error[:500],
            outcome=outcome,
        )

    def next_retry(self) -> int | None:
        """Seconds to wait before trying again, or None when this submission's retries are used
        up (or no worker can wait for one)."""
        if not self.can_retry:
            return None
        used = SubmissionAttempt.objects.filter(
            escalation=self.escalation,
            outcome=Outcome.RETRY,
            started_at__gte=self.escalation.submission_started_at,
        ).count()
        intervals = settings.CYBERTIP_RETRY_INTERVALS
        return intervals[used] if used < len(intervals) else None

    def check_xml(self, xml: bytes, what: str) -> None:
        errors = cybertip.validate(xml)
        if errors:
            raise _Invalid(f"The {what} Vigil built does not validate against the schema.", errors)

    def run(self) -> None:
        escalation = self.escalation
        if escalation.report_id is None:
            try:
                xml = packet_report_xml(escalation)
            except AssemblyFailed as e:
                raise _Invalid(e.reason, e.details) from None
            self.check_xml(xml, "report XML")
            reply = self.call(Step.OPEN, lambda: self.client.open_report(xml))
            # Saved before anything else: a later run resumes with this report, never opens one.
            Escalation.objects.filter(pk=escalation.pk).update(report_id=reply.report_id)
            escalation.report_id = reply.report_id
            audit_record(
                verb="escalation.report_opened",
                obj=escalation,
                actor_label=API_LABEL,
                # What was sent, for the chain of custody: the approved packet's own report.xml.
                after={
                    "report_id": reply.report_id,
                    "report_xml_sha256": hashlib.sha256(xml).hexdigest(),
                },
            )
        files = escalation.files.select_related("media__content_item").order_by("pk")
        for f in files:
            if not f.remote_file_id:
                self.upload(f)
            if f.details_sent_at is None:
                xml = cybertip.file_details_xml(
                    f, report_id=escalation.report_id, file_id=f.remote_file_id
                )
                self.check_xml(xml, f"fileDetails XML for {f.name}")
                self.call(
                    Step.FILE_DETAILS, lambda xml=xml: self.client.send_file_details(xml), file=f
                )
                f.details_sent_at = timezone.now()
                f.save(update_fields=["details_sent_at"])
        for transcript in transcript_upload.transcripts(escalation):
            if not transcript.file_id:
                self.upload_transcript(transcript)
            if not transcript.details_sent:
                xml = cybertip.transcript_file_details_xml(
                    report_id=escalation.report_id,
                    file_id=transcript.file_id,
                    name=transcript.name,
                    sha256=transcript.sha256,
                    item=transcript.item,
                    cutoff=escalation.approved_at,
                )
                self.check_xml(xml, f"fileDetails XML for {transcript.name}")
                self.call(Step.FILE_DETAILS, lambda xml=xml: self.client.send_file_details(xml))
                transcript_upload.record_details_sent(escalation, transcript, actor_label=API_LABEL)
        self.call(Step.FINISH, lambda: self.client.finish(escalation.report_id))

    def send_checked(
        self, stream, *, size: int, sha256: str, filename: str, changed: str, file=None
    ) -> tuple:
        """Upload `stream` as `filename`, checked against `sha256` as it is read (cut off before
        its end when it is not those bytes, failing with the reason `changed`). Returns the
        reply and the _Checked reader."""
        started = timezone.now()
        checked = _Checked(stream, sha256)
        try:
            reply = self.call(
                Step.UPLOAD,
                lambda: self.client.upload_file(self.escalation.report_id, filename, checked, size),
                file=file,
            )
        except _EvidenceChanged as e:
            took = int((timezone.now() - started).total_seconds() * 1000)
            self.log(Step.UPLOAD, file, started, None, took, changed, e)
            details = [f"expected SHA-256 {sha256}", f"found SHA-256 {e.found}"]
            raise _Invalid(changed, details) from None
        return reply, checked

    def upload(self, f: EscalationFile) -> None:
        name = f.media.file.name
        try:
            size = default_storage.size(name)
            stream = default_storage.open(name, "rb")
        except OSError as e:
            raise _Invalid(f"The evidence file {f.name} cannot be read: {e}", []) from None
        if f.size and size != f.size:
            raise _Invalid(
                f"The evidence file {f.name} is {size} bytes in storage, {f.size} in the packet.",
                [],
            )
        with stream:
            reply, _ = self.send_checked(
                stream,
                size=size,
                sha256=f.sha256,
                filename=PurePosixPath(f.name).name,
                changed=(
                    f"The evidence file {f.name} no longer matches the SHA-256 recorded when it "
                    "arrived: its upload was cut off before the end."
                ),
                file=f,
            )
        # Checked before the file id is kept: a resumed submission then uploads the file again
        # rather than sending details for, and finishing with, bytes that are not the evidence.
        if reply.md5 and f.md5 and reply.md5.lower() != f.md5.lower():
            raise _Invalid(
                f"The CyberTipline received {f.name} with MD5 {reply.md5}, but its MD5 is "
                f"{f.md5}: the file changed on the way.",
                [f"file id {reply.file_id[:100]} at the CyberTipline holds the changed upload"],
            )
        f.remote_file_id = reply.file_id[:100]
        f.save(update_fields=["remote_file_id"])

    def upload_transcript(self, transcript: transcript_upload.Transcript) -> None:
        """A conversation's transcript, read from the approved packet and checked against its
        manifest on the way: what was approved and assembled is what the authority receives."""
        try:
            with transcript_upload.packet_entry(self.escalation, transcript.name) as (stream, size):
                reply, checked = self.send_checked(
                    stream,
                    size=size,
                    sha256=transcript.sha256,
                    filename=transcript.file_name,
                    changed=(
                        f"The packet's {transcript.name} no longer matches the SHA-256 its "
                        "manifest records: its upload was cut off before the end."
                    ),
                )
        except (OSError, KeyError, zipfile.BadZipFile) as e:
            raise _Invalid(f"The packet's {transcript.name} cannot be read: {e}", []) from None
        if reply.md5 and reply.md5.lower() != checked.md5:
            raise _Invalid(
                f"The CyberTipline received {transcript.file_name} with MD5 {reply.md5}, but "
                f"its MD5 is {checked.md5}: the file changed on the way.",
                [f"file id {reply.file_id[:100]} at the CyberTipline holds the changed upload"],
            )
        transcript_upload.record_uploaded(
            self.escalation, transcript, reply.file_id[:100], actor_label=API_LABEL
        )


class _EvidenceChanged(Exception):
    """The bytes read from storage for an upload are not the evidence's. Not an OSError, so that
    it goes through urllib unchanged (and is not taken for a network failure to retry)."""

    def __init__(self, found: str):
        super().__init__(f"found SHA-256 {found}")
        self.found = found


class _Checked:
    """A file read for upload (evidence, or a transcript in the packet), hashed as it is read;
    at its end, before the last part of the request is sent, checked against the SHA-256 it
    should have. Its MD5 too, to compare with the one the authority computes."""

    def __init__(self, stream, sha256: str):
        self._stream, self._expected = stream, sha256
        self._hasher = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size)
        except zipfile.BadZipFile as e:
            # A packet entry whose bytes fail its CRC: cut off like any changed file.
            raise _EvidenceChanged(f"none (unreadable: {e})") from None
        if data:
            self._hasher.update(data)
            self._md5.update(data)
        elif self._expected and (found := self._hasher.hexdigest()) != self._expected:
            raise _EvidenceChanged(found)
        return data


class _Invalid(Exception):
    """Our side cannot send it (invalid XML, a missing evidence file): fails, no retry."""

    def __init__(self, reason: str, details: list[str]):
        super().__init__(reason)
        self.reason, self.details = reason, details


def submission_run(*, escalation_id: int, can_retry: bool = True) -> RunResult:
    """Send what remains of one escalation's submission. Idempotent: a run with nothing to do,
    or while another worker holds the submission, does nothing."""
    token = _claim(escalation_id)
    if token is None:
        return RunResult("skipped")
    escalation = Escalation.objects.get(pk=escalation_id)
    if not configured():
        _fail(escalation, token, "The CyberTipline API credentials were removed.", [])
        return RunResult("failed")
    run = _Run(escalation, token, submitter.from_settings(), can_retry)
    try:
        run.run()
    except _LeaseLost:
        return RunResult("skipped")
    except _Invalid as e:
        _fail(escalation, token, e.reason, e.details)
        return RunResult("failed")
    except submitter.Refused as e:
        _fail(escalation, token, e.message, [e.message])
        return RunResult("failed")
    except submitter.Unavailable as e:
        if run.retry_in is not None:
            _release(escalation_id, token)
            return RunResult("retry", run.retry_in)
        reason = f"The CyberTipline could not be reached: {e.message}"
        if not can_retry:
            reason += " (no background worker to try again later: submit again)"
        _fail(escalation, token, reason, [e.message])
        return RunResult("failed")
    try:
        escalation_mark_submitted(
            escalation_id=escalation.pk,
            report_id=escalation.report_id,
            via=Escalation.SubmittedVia.API,
            actor_label=API_LABEL,
        )
    except ValidationError as e:
        _fail(escalation, token, f"Finished at the CyberTipline, but not recorded: {e}", [])
        return RunResult("failed")
    Escalation.objects.filter(pk=escalation.pk).update(
        submission_started_at=None, submission_lease="", submission_lease_until=None
    )
    return RunResult("submitted")


def _fail(escalation: Escalation, token: str, reason: str, details: list[str]) -> None:
    with transaction.atomic():
        locked = Escalation.objects.select_for_update().get(pk=escalation.pk)
        if locked.submission_lease != token:
            return
        before = locked.status
        _settle(locked, status=S.FAILED, started=False, failure=reason, details=details)
        audit_record(
            verb="escalation.submission_failed",
            obj=locked,
            actor_label=API_LABEL,
            before={"status": before},
            after={"status": S.FAILED, "reason": reason[:500], "report_id": locked.report_id},
        )


def escalation_retract_submission(*, escalation_id: int, user, ip: str | None = None) -> Escalation:
    """Retract a report opened through the API and never finished (after a failed submission),
    so the escalation can be submitted afresh or by hand. Sends one request, logged."""
    if not configured():
        raise EscalationStateError("The CyberTipline API is not configured.")
    escalation = Escalation.objects.get(pk=escalation_id)
    if not can_retract(escalation):
        raise EscalationStateError(
            "Only a report opened through the API and not finished, with no submission "
            "running, can be retracted."
        )
    # Take the lease so no submission starts while the retraction is on its way.
    with transaction.atomic(durable=True):
        locked = Escalation.objects.select_for_update().get(pk=escalation_id)
        if not can_retract(locked):
            raise EscalationStateError("Someone else changed this escalation: reload the page.")
        token = secrets.token_hex(16)
        locked.submission_started_at = timezone.now()
        locked.submission_lease = token
        locked.submission_lease_until = timezone.now() + timedelta(seconds=lease_seconds())
        locked.save(
            update_fields=["submission_started_at", "submission_lease", "submission_lease_until"]
        )
    run = _Run(locked, token, submitter.from_settings(), can_retry=False)
    report_id = locked.report_id
    try:
        run.call(Step.RETRACT, lambda: run.client.retract(report_id))
    except submitter.SubmitterError as e:
        Escalation.objects.filter(pk=escalation_id, submission_lease=token).update(
            submission_started_at=None, submission_lease="", submission_lease_until=None
        )
        raise EscalationStateError(
            f"The CyberTipline did not retract report {report_id}: {e}"
        ) from None
    with transaction.atomic(durable=True):
        locked = Escalation.objects.select_for_update().get(pk=escalation_id)
        before = locked.status
        locked.report_id = None
        _settle(locked, status=S.READY, started=False, extra=("report_id",))
        EscalationFile.objects.filter(escalation=locked).update(
            remote_file_id="", details_sent_at=None
        )
        audit_record(
            verb="escalation.submission_retracted",
            obj=locked,
            actor=user,
            ip=ip,
            before={"status": before, "report_id": report_id},
            after={"status": S.READY, "report_id": None},
        )
    return locked
