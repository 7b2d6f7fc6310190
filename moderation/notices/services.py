"""E-mail to the people who reported content: that their report was received and, once its case
is decided, whether action was taken.

Who. A report whose reporter left an e-mail address and asked to hear back
(`ReporterIdentity.notify`: giving an address on the public forms asks for it, the forms say so;
the platform sets `reporter.notify` in the API when its user asked). Each report gets at most one
notice of each kind (`ReporterNotice`, unique per report and kind), so every reporter of a case
hears once, whatever runs twice.

When. "received": after the report commits (report_submit). "outcome": after a decision that
closes the case commits (record_decision), one per report on the case that has none yet. A
referral to senior review is not an outcome: the senior's decision is. Nobody hears twice: an
appeal's outcome (or a re-review that replaces a decision) sends nothing to those told of the
decision it changes, since a second e-mail saying otherwise would tell them the owner contested
it; it reaches only someone who reported while the appeal was open. A report counted against a
case decided before it arrived gets both at intake: its outcome is already known. A report that
reopens a decided case hears with the next decision.

What. Whether action was taken, the reported link and the report's reference
(moderation/notices/messages.py): never which action, against whom, anything about the content's
owner, other reporters or the reviewer.

How. A job per notice (`send_reporter_notice`) makes one attempt with the notice's row locked
(SKIP LOCKED) while the mail server answers, so two workers never send one notice at once and a job
run again after success finds it sent. A failure the server may get over (down, timed out, a
4xx, ...) leaves the notice pending with the error and the time of its next attempt, after
NOTICE_RETRY_INTERVALS: RQ retries with Redis (the job returns a `Retry`; the relay loop queues
again a notice whose job was lost), the server's background thread in the embedded mode
(moderation/periodic/embedded.py, every 15 seconds; `manage.py send_notices` by hand). A
recipient the server refuses for good (5xx) fails at once. After the last attempt the notice is
failed, audited, and listed for supervisors in the admin (Reporter notices). The decision never
waits for any of this: it has committed before the first attempt.

Exactly once cannot be promised over SMTP: if the server took the message and the worker died
before recording it, the lock goes with the worker, the notice is still pending, and the retry
sends it again. That window is one database commit wide; the alternative (marking it sent before
sending) would lose notices instead.

Audit. Every notice sent or failed is an AuditEvent (`notice.sent`, `notice.failed`) naming the
report's reference and the kind; never the address (the error text has it taken out).
"""

import logging
import re
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.decisions.models import Decision
from moderation.notices.jobs import send_reporter_notice
from moderation.notices.messages import notice_message
from moderation.outbox.services import enqueue
from reports.models import Report, ReporterIdentity, ReporterNotice

logger = logging.getLogger(__name__)

ACTOR = "reporter notices"
# With Redis, RQ owns the retry schedule; a pending notice this far past its due time has lost its
# job and is queued again by the sweep.
LOST_AFTER = timedelta(minutes=5)
# A retry may run this much before its time (clocks of workers and database differ a little).
EARLY_SLACK = timedelta(seconds=5)
# What stands for the reporter's address in errors kept and audited.
ADDRESS_HIDDEN = "<reporter address>"

Kind = ReporterNotice.Kind
Outcome = ReporterNotice.Outcome
Status = ReporterNotice.Status


def max_attempts() -> int:
    return 1 + len(settings.NOTICE_RETRY_INTERVALS)


def decision_outcome(decision: Decision) -> str:
    """All a reporter learns of a decision: whether action was taken."""
    if decision.action == Decision.Action.NO_VIOLATION:
        return Outcome.NO_ACTION
    return Outcome.ACTIONED


def standing_decision(case_id: int, *, since=None) -> Decision | None:
    """The case's latest decision that is a finding or a clearance (a referral is neither),
    made at or after `since` when given."""
    decisions = Decision.objects.filter(case_id=case_id).exclude(
        action=Decision.Action.SENIOR_REVIEW
    )
    if since is not None:
        decisions = decisions.filter(created_at__gte=since)
    return decisions.order_by("-created_at", "-pk").first()


@in_transaction
def _notice_queue(report: Report, kind: str, outcome: str = "") -> bool:
    """Create the report's notice of this kind and queue its sending after commit; False when it
    has one already."""
    notice, created = ReporterNotice.objects.get_or_create(
        report=report,
        kind=kind,
        defaults={"outcome": outcome, "next_attempt_at": timezone.now()},
    )
    if created:
        enqueue(send_reporter_notice, notice.pk)
    return created


@in_transaction
def notices_for_report(*, report: Report, counted: bool) -> int:
    """A report arrived whose reporter asked to hear back: queue its "received" notice, and its
    outcome too when it was `counted` against a case decided before it arrived. Call inside
    report_submit's transaction. Returns how many notices were queued."""
    queued = int(_notice_queue(report, Kind.RECEIVED))
    if counted:
        decision = standing_decision(report.case_id)
        if decision is not None:
            queued += _notice_queue(report, Kind.OUTCOME, decision_outcome(decision))
    return queued


@in_transaction
def notices_for_decision(*, case, decision: Decision) -> int:
    """A decision was recorded: unless it is a referral, queue an outcome notice for every report
    on the case whose reporter asked to hear back and has not heard yet (so an appeal's outcome
    reaches only someone who reported while the appeal was open). Call inside record_decision's
    transaction. Returns how many."""
    if decision.action == Decision.Action.SENIOR_REVIEW:
        return 0
    outcome = decision_outcome(decision)
    waiting = (
        Report.objects.filter(case=case, reporter_identity__notify=True)
        .exclude(reporter_identity__email="")
        .exclude(notices__kind=Kind.OUTCOME)
        .order_by("pk")
    )
    return sum(_notice_queue(report, Kind.OUTCOME, outcome) for report in waiting)


@dataclass(frozen=True)
class Attempted:
    """What one run of the job did: the notice's status after it and, to retry, in how long."""

    status: str
    retry_in: int | None = None


def notice_send(*, notice_id: int) -> Attempted | None:
    """Make one attempt at a pending notice. None when there was nothing to do: the notice is no
    longer pending (idempotent: a job run twice sends once), another worker is sending it at this
    moment, or a copy of the job came before the notice is due."""
    with transaction.atomic(durable=True):
        notice = (
            ReporterNotice.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("report__content_item", "report__case")
            .filter(pk=notice_id)
            .first()
        )
        if notice is None or notice.status != Status.PENDING:
            return None
        if notice.next_attempt_at and notice.next_attempt_at > timezone.now() + EARLY_SLACK:
            return None
        identity = ReporterIdentity.objects.filter(report_id=notice.report_id).first()
        address = identity.email if identity is not None and identity.notify else ""
        started_at = timezone.now()
        if address:
            error, retryable = _send(notice, address)
        else:
            error, retryable = "no address to send to (removed, or notices not asked for)", False
        return _record(notice, error=error, retryable=retryable, started_at=started_at)


def _send(notice: ReporterNotice, address: str) -> tuple[str, bool]:
    """Send the notice's e-mail. ("", False) when the mail server took it; otherwise why not
    (the address taken out) and whether another attempt may succeed."""
    subject, body = notice_message(notice)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        # RFC 3834: an automatic message, so out-of-office replies are not sent back.
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        sent = message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as e:
        # Refused for good (5xx: no such mailbox) or for now (4xx: greylisting, a full mailbox).
        codes = [code for code, _ in e.recipients.values()]
        return _describe(e, address), not all(code >= 500 for code in codes)
    except ValueError as e:
        # An address the message cannot carry (a header injection attempt, say): no retry helps.
        return _describe(e, address), False
    except Exception as e:
        # The server down, refusing connections, timing out, TLS or login failing, a 4xx or 5xx
        # to the message: a deployment or the server can recover, so it is tried again.
        return _describe(e, address), True
    if not sent:
        return "the mail backend sent nothing", True
    return "", False


def _describe(error: Exception, address: str) -> str:
    text = f"{type(error).__name__}: {error}"
    return re.sub(re.escape(address), ADDRESS_HIDDEN, text, flags=re.IGNORECASE)[:300]


def _record(notice: ReporterNotice, *, error: str, retryable: bool, started_at) -> Attempted:
    now = timezone.now()
    notice.attempts += 1
    notice.last_attempt_at = started_at
    notice.last_error = error[:300]
    if error and retryable and notice.attempts < max_attempts():
        retry_in = settings.NOTICE_RETRY_INTERVALS[notice.attempts - 1]
        notice.next_attempt_at = now + timedelta(seconds=retry_in)
        notice.save()
        logger.warning(
            "reporter notice %s not sent (attempt %d), retrying in %ds: %s",
            notice.pk,
            notice.attempts,
            retry_in,
            notice.last_error,
        )
        return Attempted(Status.PENDING, retry_in)

    notice.status = Status.FAILED if error else Status.SENT
    notice.sent_at = None if error else now
    notice.next_attempt_at = None
    notice.save()
    report = notice.report
    audit_record(
        verb=f"notice.{notice.status}",
        obj=notice,
        case=report.case,
        actor_label=ACTOR,
        after={
            "reference": report.reference,
            "kind": notice.kind,
            **({"outcome": notice.outcome} if notice.outcome else {}),
            "attempts": notice.attempts,
            **({"error": notice.last_error} if error else {}),
        },
    )
    return Attempted(notice.status)


def notices_sweep(*, limit: int = 200) -> int:
    """Make sure every due pending notice gets its attempt. Returns how many were handled.

    Embedded mode: makes the attempts that are due, here. With Redis: queues again the notices
    long overdue (their job was lost); RQ's own retries are not overdue and are left alone.
    """
    now = timezone.now()
    due_before = now if settings.JOBS_EAGER else now - LOST_AFTER
    due = list(
        ReporterNotice.objects.filter(status=Status.PENDING, next_attempt_at__lte=due_before)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if settings.JOBS_EAGER:
        for pk in due:
            notice_send(notice_id=pk)
        return len(due)

    for pk in due:
        with transaction.atomic(durable=True):
            # Not due again until the new job has had time to run: one re-queue per lost job.
            moved = ReporterNotice.objects.filter(
                pk=pk, status=Status.PENDING, next_attempt_at__lte=due_before
            ).update(next_attempt_at=now)
            if moved:
                enqueue(send_reporter_notice, pk)
    if due:
        logger.warning("queued %d overdue reporter notices again", len(due))
    return len(due)
