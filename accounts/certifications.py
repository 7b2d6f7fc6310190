"""Renewing a reviewer's queue certification (supervisors, from the team pages).

A renewal is a fresh grant: the supervisor who renews becomes its grantor from now until the new
expiry. The audit event keeps the previous grant and expiry.
"""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import QueueCertification
from moderation.audit.services import audit_record

# Training goes stale: a renewal lasts at most this long.
MAX_RENEWAL = timedelta(days=2 * 365)


def certification_renew(
    *, certification_id: int, expires_at: datetime, by, ip: str | None = None
) -> QueueCertification:
    if not by.has_perm(roles.SUPERVISE):
        raise PermissionDenied("Only a supervisor can renew certifications.")
    now = timezone.now()
    if expires_at <= now:
        raise ValidationError({"expires_on": "The new expiry must be in the future."})
    if expires_at > now + MAX_RENEWAL:
        raise ValidationError(
            {"expires_on": f"A renewal lasts at most {MAX_RENEWAL.days} days from today."}
        )
    with transaction.atomic(durable=True):
        cert = (
            QueueCertification.objects.select_for_update(of=("self",))
            .select_related("user", "queue", "granted_by")
            .get(pk=certification_id)
        )
        before = {
            "expires_at": cert.expires_at.isoformat(),
            "granted_at": cert.granted_at.isoformat(),
            "granted_by": cert.granted_by.get_username() if cert.granted_by_id else None,
        }
        cert.expires_at, cert.granted_at, cert.granted_by = expires_at, now, by
        cert.save(update_fields=["expires_at", "granted_at", "granted_by"])
        audit_record(
            verb="queuecertification.renewed",
            obj=cert,
            actor=by,
            before=before,
            after={
                "user": cert.user.get_username(),
                "queue": cert.queue.slug,
                "expires_at": expires_at.isoformat(),
            },
            ip=ip,
        )
    return cert
