"""Writes for enforcement actions. Call inside the caller's transaction."""

from django.db.models import Q

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.cases.models import Case
from moderation.enforcement.delivery import delivery_queue
from moderation.enforcement.models import EnforcementAction, WebhookDelivery


@in_transaction
def case_note_action(*, case: Case, at) -> None:
    """Keep Case.first_action_at the earliest decision or automated action on the case: call
    whenever one is written (record_decision sets it on the case it saves itself)."""
    if case.first_action_at is not None and case.first_action_at <= at:
        return
    Case.objects.filter(pk=case.pk).filter(
        Q(first_action_at__isnull=True) | Q(first_action_at__gt=at)
    ).update(first_action_at=at)
    case.first_action_at = at


@in_transaction
def action_request(
    *, case, kind: str, target: str, reason: str, decision=None, user=None, actor_label: str = ""
) -> EnforcementAction | None:
    """Record an action for the platform to carry out, and queue its delivery to the platform
    (after commit). None when the same action on the same target is already pending for this
    case (idempotent)."""

    if EnforcementAction.objects.filter(
        case=case, kind=kind, target=target, status=EnforcementAction.Status.PENDING
    ).exists():
        return None
    action = EnforcementAction.objects.create(
        case=case, kind=kind, target=target, reason=reason[:300], decision=decision, created_by=user
    )
    if decision is None:  # a bank acting on its own: the case's first action, maybe
        case_note_action(case=case, at=action.created_at)
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
