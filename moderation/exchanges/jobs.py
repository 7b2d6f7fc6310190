"""RQ jobs for hash exchanges. Thin: take ids, call one service."""

import contextlib

from accounts.models import User

# A first sync of a large programme (millions of hashes) runs for long.
SYNC_JOB_SECONDS = 3 * 3600


def sync_exchange(exchange_id: int, trigger: str = "schedule", user_id: int | None = None) -> None:
    """Sync one exchange (moderation/exchanges/sync.py); nothing when another sync holds it."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.exchanges.sync import SyncBusy, exchange_sync

    user = User.objects.filter(pk=user_id).first() if user_id else None
    with contextlib.suppress(SyncBusy):  # the sync under way does the work
        exchange_sync(exchange_id=exchange_id, trigger=trigger, user=user)


sync_exchange.job_timeout = SYNC_JOB_SECONDS


def send_exchange_feedback(feedback_id: int) -> None:
    """Send one verdict to its programme (moderation/exchanges/feedback.py)."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.exchanges.feedback import feedback_send

    feedback_send(feedback_id=feedback_id)
