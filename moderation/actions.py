"""Writes for enforcement actions. Call inside the caller's transaction."""

from moderation.audit import audit_record
from moderation.enforcement import EnforcementAction, WebhookDelivery


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
