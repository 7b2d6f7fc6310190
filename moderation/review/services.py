"""Writes on cases. Every function owns its transaction and its audit events."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.wellness import exposure_record
from moderation.audit.services import audit_record
from moderation.cases.models import Case, Decision, Queue
from moderation.cases.reprioritise import reporters_record_outcome, reporters_revise_outcome
from moderation.cases.rules import NON_FINDINGS, decision_requirements, missing_fields
from moderation.cases.services import (
    lock_held_case,
)


class CaseChanged(Exception):
    """The case changed since the reviewer's form was drawn (a report joined, a flag or a bank
    match arrived): the decision would be on something they have not seen."""


def case_version(case: Case) -> str:
    """What the reviewer saw, as the decision form carries it back. Priority is left out on
    purpose: waiting time moves it every few minutes without anything new to look at."""
    return (
        f"{case.reports_count}r.{case.flags_count}f.{case.bank_match_level}b."
        f"{case.category}.{case.queue_id}q"
    )


def decision_errors(
    *, case: Case, action: str, intent: str, classification: str, notes: str = ""
) -> dict:
    """What is missing or not allowed for this decision on this case ({} when it may be made)."""
    errors = {}
    if action == Decision.Action.SENIOR_REVIEW:
        if case.queue.senior_only:
            errors["action"] = "This case is already in senior review: decide it here."
        elif _senior_queue() is None:
            errors["action"] = "No senior-review queue is active; ask an administrator."
    required = decision_requirements(category=case.category, action=action, queue=case.queue)
    missing = missing_fields(required, intent=intent, classification=classification, notes=notes)
    return {**missing, **errors}


def _senior_queue() -> Queue | None:
    return Queue.objects.filter(senior_only=True, is_active=True).order_by("order").first()


def record_decision(
    *,
    case: Case,
    user,
    action: str,
    policy: str,
    intent: str,
    classification: str,
    notes: str,
    now,
    ip: str | None,
    via_case: int | None = None,
) -> Decision:
    """Write a decision on a locked, validated case and close (or move) the case."""
    decision = Decision.objects.create(
        case=case,
        reviewer=user,
        action=action,
        policy=policy,
        intent=intent,
        classification=classification,
        notes=notes,
        created_at=now,
    )
    exposure_record(user=user, kind="decision", case=case)  # in the queue it was decided in
    before = {
        "status": case.status,
        "queue": case.queue.slug,
        "assignee": case.assignee.get_username() if case.assignee_id else None,
    }
    case.assignee = None
    case.lease_expires_at = None
    case.updated_at = now
    if case.first_action_at is None or now < case.first_action_at:
        case.first_action_at = now  # as actions.case_note_action does, saved below
    if action == Decision.Action.SENIOR_REVIEW:
        # Stays open, for a senior reviewer to pick up in their own queue.
        case.queue = _senior_queue()
        case.waiting_since = now
    else:
        case.status = Case.Status.DECIDED
        case.decided_at = now
    case.save()
    from moderation.review.appeals import appeal_settle
    from moderation.review.rereview import rereview_sample

    appeal = appeal_settle(case=case, decision=decision, user=user, now=now)
    if appeal is None:
        _request_actions(case=case, decision=decision, user=user)
    elif appeal.status == appeal.Status.OVERTURNED:
        supersede_actions(case=case, old=appeal.decision, new=decision, user=user, source="appeal")
    # Upheld: the appealed decision's actions stand as they are; nothing new is asked.
    if action != Decision.Action.SENIOR_REVIEW:
        rereview_sample(decision=decision)
        upheld = action not in NON_FINDINGS
        if appeal is not None and appeal.status == appeal.Status.OVERTURNED:
            # The reporters counted with the appealed decision are judged by its outcome now.
            reporters_revise_outcome(
                case=case, was_upheld=appeal.decision.action not in NON_FINDINGS, upheld=upheld
            )
        # Sending a case up is not a finding: the reporters' records wait for the senior's.
        reporters_record_outcome(case=case, upheld=upheld)
    audit_record(
        verb="case.decided",
        obj=case,
        case=case,
        actor=user,
        before=before,
        after={
            "status": case.status,
            "queue": case.queue.slug,
            "decision": decision.pk,
            "action": action,
            "policy": policy,
            "intent": intent,
            "classification": classification,
            **({"applied_from_cluster_of": via_case} if via_case else {}),
            **({"appeal": appeal.pk, "appeal_status": appeal.status} if appeal else {}),
        },
        ip=ip,
    )
    return decision


def case_decide(
    *,
    case_id: int,
    user,
    action: str,
    policy: str,
    intent: str = "",
    classification: str = "",
    notes: str = "",
    ip: str | None = None,
    seen: str = "",
) -> Decision:
    """Record a reviewer's decision on a case they hold.

    Raises CaseNotHeld when the case is no longer the reviewer's (nothing is recorded),
    CaseChanged when `seen` (the case_version the form was drawn from) is stale, and
    ValidationError when a field the decision needs is missing.
    """
    with transaction.atomic():
        case = lock_held_case(case_id=case_id, user=user)
        if seen and seen != case_version(case):
            raise CaseChanged(
                "This case changed while you had it open (a new report, flag or match arrived). "
                "Nothing was recorded: look at it again, then decide."
            )
        errors = decision_errors(
            case=case, action=action, intent=intent, classification=classification, notes=notes
        )
        if errors:
            raise ValidationError(errors)
        return record_decision(
            case=case,
            user=user,
            action=action,
            policy=policy,
            intent=intent,
            classification=classification,
            notes=notes,
            now=timezone.now(),
            ip=ip,
        )


def media_record_view(*, media, case: Case, user, ip: str | None = None) -> None:
    """Log that a person looked at a media file (feeds "who saw this file" and fileViewedByEsp)."""
    with transaction.atomic():
        audit_record(verb="media.viewed", obj=media, case=case, actor=user, ip=ip)
        exposure_record(user=user, kind="reveal", case=case)


# What each decision asks of the platform: (action kind, whether it targets the owner's account).
DECISION_ACTIONS = {
    Decision.Action.REMOVE: [("remove_content", False)],
    Decision.Action.AGE_RESTRICT: [("age_restrict", False)],
    Decision.Action.WARN: [("warn", True)],
    Decision.Action.SAFETY_NOTICE: [("safety_notice", True)],
    Decision.Action.SUSPEND: [("remove_content", False), ("suspend_account", True)],
    Decision.Action.ESCALATE: [("remove_content", False), ("suspend_account", True)],
}


def _planned_actions(*, case: Case, action: str) -> list[tuple[str, str]]:
    """(kind, target) of each action a decision of this kind asks the platform for."""
    item = case.content_item
    planned = []
    for kind, on_owner in DECISION_ACTIONS.get(action, []):
        target = item.owner_id if on_owner else (item.platform_id or item.url)
        if target:
            planned.append((kind, target))
    return planned


def _request_actions(*, case: Case, decision: Decision, user, skip=frozenset()) -> None:
    """Record what the decision asks the platform to do, and open the escalation it calls for.
    Delivery to the platform is separate (pending until delivered). `skip`: (kind, target) pairs
    already in force from a decision this one replaces."""
    from moderation.enforcement.services import action_request
    from moderation.escalations.services import escalation_open

    reason = f"decision {decision.pk}: {decision.get_action_display()} under {decision.policy}"
    for kind, target in _planned_actions(case=case, action=decision.action):
        if (kind, target) not in skip:
            action_request(
                case=case, kind=kind, target=target, reason=reason, decision=decision, user=user
            )
    if decision.action == Decision.Action.ESCALATE:
        escalation_open(case=case, reason=reason, user=user)


def supersede_actions(
    *, case: Case, old: Decision, new: Decision, user, source: str = "review"
) -> None:
    """`new` replaces `old` (an appeal overturned it, or a supervisor sided with a re-review):
    reverse what `old` asked of the platform that `new` does not ask too, keep what both ask
    (asking the platform to undo and redo it would be noise), and request the rest of `new`'s.
    An escalation already opened stays: a report to an authority is withdrawn by people."""
    from moderation.enforcement.models import EnforcementAction
    from moderation.review.appeals import action_reverse_for

    wanted = set(_planned_actions(case=case, action=new.action))
    kept = set()
    live = old.actions.select_for_update().exclude(status=EnforcementAction.Status.REVERSED)
    for enforcement in live.order_by("pk"):
        failed = enforcement.status == EnforcementAction.Status.FAILED
        if (enforcement.kind, enforcement.target) in wanted and not failed:
            kept.add((enforcement.kind, enforcement.target))
        else:
            action_reverse_for(
                action=enforcement,
                user=user,
                reason=f"superseded by decision {new.pk}",
                source=source,
            )
    _request_actions(case=case, decision=new, user=user, skip=kept)
