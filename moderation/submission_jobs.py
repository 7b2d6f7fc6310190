"""RQ job for submitting an escalation to the CyberTipline (moderation/submission.py). Thin."""


def submit_escalation(escalation_id: int):
    """Send what remains of the escalation's submission.

    Under an RQ worker, a request that failed for a passing reason is tried again by handing RQ
    a `Retry` with the delay CYBERTIP_RETRY_INTERVALS gives; the attempts logged on the
    escalation decide when to stop, RQ's own count is only a backstop. In-process (embedded mode,
    no worker to wait) such a failure fails the submission at once, for a supervisor to resume.
    """
    from django.conf import settings
    from rq import Retry, get_current_job

    from moderation.submission import submission_run

    under_rq = get_current_job() is not None
    result = submission_run(escalation_id=escalation_id, can_retry=under_rq)
    if result.retry_in is None or not under_rq:
        return None
    return Retry(max=len(settings.CYBERTIP_RETRY_INTERVALS) + 1, interval=result.retry_in)
