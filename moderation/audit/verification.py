"""Running the audit chain check as a recorded job: daily (moderation/periodic/services.py) and when a
supervisor asks. Each run seals what is still unsealed, verifies the whole chain and stores the
outcome in an AuditVerification row that the /audit/ page shows."""

import logging
import time

from django.db import transaction
from django.utils import timezone

from moderation.audit.chain import audit_seal
from moderation.audit.chain_verify import audit_verify, default_workers
from moderation.audit.head import ChainHead
from moderation.audit.jobs import verify_audit_log
from moderation.audit.models import AuditVerification
from moderation.audit.services import audit_record
from moderation.outbox.services import enqueue

logger = logging.getLogger(__name__)


def latest_verification() -> AuditVerification | None:
    return AuditVerification.objects.select_related("requested_by").first()


def _anchor() -> tuple[int, str] | None:
    """The end of the chain as the last good run saw it."""
    last_ok = (
        AuditVerification.objects.filter(ok=True, last_seq__gt=0)
        .values_list("last_seq", "last_hash")
        .first()
    )
    return tuple(last_ok) if last_ok else None


def audit_verification_request(*, user, ip: str | None = None) -> AuditVerification:
    """A supervisor asks for a check now: recorded, audited, and run as a job."""
    with transaction.atomic(durable=True):
        verification = AuditVerification.objects.create(requested_by=user)
        audit_record(verb="audit.verification_requested", obj=verification, actor=user, ip=ip)

        enqueue(verify_audit_log, verification.pk)
    return verification


def audit_verification_run(
    *,
    verification_id: int | None = None,
    workers: int | None = None,
    head: ChainHead | None = None,
) -> AuditVerification:
    """Seal, then verify the whole chain (in `workers` processes, default
    settings.AUDIT_VERIFY_WORKERS), and store the result. `head` is one kept outside the
    database (moderation/audit/head.py) that must still be in the chain. Idempotent: a run that
    finished already is returned as it is."""
    if verification_id is None:
        verification = AuditVerification.objects.create()
    else:
        verification = AuditVerification.objects.get(pk=verification_id)
        if verification.finished_at is not None:
            return verification
    AuditVerification.objects.filter(pk=verification.pk).update(started_at=timezone.now())
    anchor = _anchor()
    try:
        audit_seal(wait=True)
    except Exception:
        # A sealing fault must not hide the chain's state: verify what is sealed (unsealed
        # events past the grace period are reported as failures).
        logger.exception("sealing before verification failed")
    started = time.monotonic()
    try:
        result = audit_verify(anchor=anchor, head=head, workers=workers or default_workers())
    except Exception as exc:
        # The check itself broke (the database went away, a worker process died): say so rather
        # than leave the run "running" for ever. ok stays None: the chain was not judged.
        AuditVerification.objects.filter(pk=verification.pk).update(
            finished_at=timezone.now(),
            message=f"the check could not complete: {type(exc).__name__}: {exc}"[:2000],
        )
        raise
    logger.info(
        "audit chain verification: %s (%d process%s, %.1f s)",
        result.message,
        result.workers,
        "" if result.workers == 1 else "es",
        time.monotonic() - started,
    )
    AuditVerification.objects.filter(pk=verification.pk).update(
        finished_at=timezone.now(),
        ok=result.ok,
        events_checked=result.checked,
        first_bad_id=result.bad_id,
        first_bad_seq=result.bad_seq,
        message=result.message[:2000],
        last_seq=result.last_seq,
        last_hash=result.last_hash,
    )
    if not result.ok:
        logger.error("audit chain verification failed: %s", result.message)
    verification.refresh_from_db()
    return verification
