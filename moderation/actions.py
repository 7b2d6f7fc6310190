"""Writes for enforcement actions and escalations. Call inside the caller's transaction."""

from django.db import IntegrityError, transaction

from moderation.audit import audit_record
from moderation.enforcement import EnforcementAction, Escalation, WebhookDelivery


def action_request(
    *, case, kind: str, target: str, reason: str, decision=None, user=None, actor_label: str = ""
) -> EnforcementAction | None:
    """Record an action for the platform to carry out, and queue its delivery to the platform
    (after commit). None when the same action on the same target is already pending for this
    case (idempotent)."""
    from moderation.delivery import delivery_queue

    if EnforcementAction.objects.filter(
        case=case, kind=kind, target=target, status=EnforcementAction.Status.PENDING
    ).exists():
        return None
    action = EnforcementAction.objects.create(
        case=case, kind=kind, target=target, reason=reason[:300], decision=decision, created_by=user
    )
    audit_record(
        verb="action.requested",
        obj=action,
        case=case,
        actor=user,
        actor_label=actor_label,
        after={"kind": kind, "target": target, "reason": reason[:300]},
    )
    delivery_queue(action=action, event=WebhookDelivery.Event.REQUESTED)
    return action


def escalation_open(
    *, case, reason: str, user=None, actor_label: str = "", urgent: bool = False
) -> Escalation:
    """Add the case to the open escalation for its owner's account, or open one."""
    owner = case.content_item.owner_id
    open_for_owner = Escalation.objects.select_for_update().filter(
        authority=Escalation.Authority.NCMEC, owner_id=owner, status__in=Escalation.OPEN
    )
    escalation = open_for_owner.first() if owner else None
    created = False
    if escalation is None:
        try:
            with transaction.atomic():
                escalation = Escalation.objects.create(
                    owner_id=owner, opened_by=user, opened_reason=reason[:300], urgent=urgent
                )
                created = True
        except IntegrityError:
            # Another worker opened it a moment ago: join it.
            escalation = open_for_owner.get()
    escalation.cases.add(case)
    audit_record(
        verb="escalation.opened" if created else "escalation.case_added",
        obj=escalation,
        case=case,
        actor=user,
        actor_label=actor_label,
        after={
            "owner_id": owner,
            "case": case.pk,
            "reason": reason[:300],
            "status": escalation.status,
        },
    )
    return escalation
