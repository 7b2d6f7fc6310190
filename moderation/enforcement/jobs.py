"""RQ jobs for enforcement. Thin: take ids, call one service."""

from rq import Retry, get_current_job


def deliver_action(action_id: int, event: str = "action.requested"):
    """Deliver one event about an enforcement action to the platform (moderation/enforcement/delivery.py).

    Under an RQ worker, a delivery to try again later is handed back to RQ as a `Retry` with the
    delay our schedule gives; RQ's own count is only a backstop, the delivery row decides when
    to stop. In-process (embedded mode) the next attempt is left to `deliveries_sweep` (the
    server's background scheduler, or `manage.py deliver_actions`).
    """
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.enforcement.delivery import delivery_attempt, max_attempts

    attempted = delivery_attempt(action_id=action_id, event=event)
    if attempted is None or attempted.retry_in is None or get_current_job() is None:
        return None
    return Retry(max=max_attempts(), interval=attempted.retry_in)
