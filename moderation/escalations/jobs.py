"""RQ jobs for escalations. Thin: take ids, call one service."""

from django.conf import settings
from rq import Retry, get_current_job


def purge_expired_evidence() -> None:
    """The daily purge of evidence whose preservation has ended (moderation/escalations/custody.py)."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.escalations.custody import evidence_purge_expired

    evidence_purge_expired()


def submit_escalation(escalation_id: int):
    """Send what remains of the escalation's submission.

    Under an RQ worker, a request that failed for a passing reason is tried again by handing RQ
    a `Retry` with the delay CYBERTIP_RETRY_INTERVALS gives; the attempts logged on the
    escalation decide when to stop, RQ's own count is only a backstop. In-process (embedded mode,
    no worker to wait) such a failure fails the submission at once, for a supervisor to resume.
    """
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.escalations.submission import submission_run

    under_rq = get_current_job() is not None
    result = submission_run(escalation_id=escalation_id, can_retry=under_rq)
    if result.retry_in is None or not under_rq:
        return None
    return Retry(max=len(settings.CYBERTIP_RETRY_INTERVALS) + 1, interval=result.retry_in)


def assemble_packet(escalation_id: int) -> None:
    """Assemble an approved escalation's packet (moderation/escalations/packet.py).

    Idempotent: it acts only on an escalation still in ASSEMBLING, and the packet is deterministic,
    so a second run, or a run after a worker died halfway, gives the same packet. Transient errors
    (the database or storage briefly away, evidence still being hashed) propagate, and RQ retries
    the job (lib.jobs hands every job over with a `Retry`); the relay loop's sweep queues again an
    assembly whose job was lost altogether.
    """
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.escalations.packet import escalation_assemble

    escalation_assemble(escalation_id=escalation_id)
