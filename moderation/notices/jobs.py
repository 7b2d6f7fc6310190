"""RQ jobs for reporter notices. Thin: take ids, call one service."""

from rq import Retry, get_current_job


def send_reporter_notice(notice_id: int):
    """One attempt at e-mailing a reporter notice (moderation/notices/services.py).

    Under an RQ worker, a notice to try again later is handed back to RQ as a `Retry` with the
    delay the notice's schedule gives; the notice row, not RQ, counts attempts and decides when it
    has failed. In-process (embedded mode) the next attempt is left to `notices_sweep` (the
    server's background scheduler, or `manage.py send_notices`).
    """
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.notices.services import max_attempts, notice_send

    attempted = notice_send(notice_id=notice_id)
    if attempted is None or attempted.retry_in is None or get_current_job() is None:
        return None
    return Retry(max=max_attempts(), interval=attempted.retry_in)
