"""RQ jobs for moderation. Thin: take ids, call one service."""

from datetime import datetime

from moderation.banks import BankEntry
from reports.services import media_rematch


def rematch_media(bank_id: int, added_at: str) -> None:
    """Match media already received against the entries one import added to a bank."""
    entry_ids = list(
        BankEntry.objects.filter(
            bank_id=bank_id, added_at=datetime.fromisoformat(added_at), removed_at__isnull=True
        ).values_list("pk", flat=True)
    )
    media_rematch(entry_ids=entry_ids)


def deliver_action(action_id: int, event: str = "action.requested"):
    """Deliver one event about an enforcement action to the platform (moderation/delivery.py).

    Under an RQ worker, a delivery to try again later is handed back to RQ as a `Retry` with the
    delay our schedule gives; RQ's own count is only a backstop, the delivery row decides when
    to stop. In-process (embedded mode) the next attempt is left to `manage.py deliver_actions`.
    """
    from rq import Retry, get_current_job

    from moderation.delivery import delivery_attempt, max_attempts

    attempted = delivery_attempt(action_id=action_id, event=event)
    if attempted is None or attempted.retry_in is None or get_current_job() is None:
        return None
    return Retry(max=max_attempts(), interval=attempted.retry_in)


def recompute_priorities(version: int, after_id: int) -> None:
    """Recompute one batch of open cases with new priority weights (queues the next batch)."""
    from moderation.reprioritise import cases_recompute_priorities

    cases_recompute_priorities(version=version, after_id=after_id)


def refresh_reporters_cases(record_ids: list[int]) -> None:
    """Reporters' track records changed: recompute their open cases."""
    from moderation.reprioritise import cases_refresh_reliability

    cases_refresh_reliability(record_ids=record_ids)


def refresh_waiting_priorities() -> None:
    """The periodic run (moderation/periodic.py): schedules the next, then recomputes."""
    from moderation.periodic import waiting_refresh_run

    waiting_refresh_run()


def purge_expired_evidence() -> None:
    """The daily purge of evidence whose preservation has ended (moderation/custody.py)."""
    from moderation.custody import evidence_purge_expired

    evidence_purge_expired()


def verify_audit_log(verification_id: int | None = None) -> None:
    """Seal and verify the audit hash chain, storing the result (moderation/audit_verification.py).
    The daily run passes no id (it creates its row); a supervisor's request passes its row."""
    from moderation.audit_verification import audit_verification_run

    audit_verification_run(verification_id=verification_id)
