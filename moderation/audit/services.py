"""Writing audit events. Services call `audit_record` inside the transaction of the change.

Events are inserted unsealed and sealed into the hash chain right after commit
(moderation/audit/chain.py), so audit-writing transactions never queue up behind one lock.
"""

from collections.abc import Sequence

from django.db import models

from moderation.audit.chain import audit_seal_on_commit
from moderation.audit.models import AuditEvent

SYSTEM = "system"


def _event(
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
    return AuditEvent(
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
    event = _event(
        verb=verb,
        obj=obj,
        actor=actor,
        actor_label=actor_label,
        case=case,
        before=before,
        after=after,
        ip=ip,
    )
    event.save(force_insert=True)
    audit_seal_on_commit()
    return event


def audit_record_many(records: Sequence[dict]) -> list[AuditEvent]:
    """Several events in one INSERT, each `records` item being audit_record's keyword arguments.

    Ids follow the order given, as one audit_record after another would give them, so the chain
    seals them in that order. For a service that writes many changes at once (a batch of flags):
    every object named must be saved by now, as its id goes into the event."""
    events = AuditEvent.objects.bulk_create([_event(**record) for record in records])
    if events:
        audit_seal_on_commit()
    return events
