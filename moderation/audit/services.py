"""Writing audit events. Services call `audit_record` inside the transaction of the change.

Events are inserted unsealed and sealed into the hash chain right after commit
(moderation/audit/chain.py), so audit-writing transactions never queue up behind one lock.
"""

from django.db import models

from moderation.audit.chain import audit_seal_on_commit
from moderation.audit.models import AuditEvent

SYSTEM = "system"


def audit_record(
    *,
    verb: str,
    obj: models.Model,
    actor=None,
    actor_label: str = "",
    case: models.Model | None = None,  # the Case the change belongs to
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
) -> AuditEvent:
    if actor is not None and not actor_label:
        actor_label = actor.get_username()
    event = AuditEvent.objects.create(
        actor=actor,
        actor_label=actor_label or SYSTEM,
        verb=verb,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        case=case,
        before=before,
        after=after,
        ip=ip,
    )
    audit_seal_on_commit()
    return event
