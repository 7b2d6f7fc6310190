"""Writes on cases. Every function owns its transaction and its audit events."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.wellness import exposure_record
from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.cases.models import Case, Queue
from moderation.cases.reprioritise import reporters_record_outcome, reporters_revise_outcome
from moderation.cases.routing import case_reroute
from moderation.cases.services import (
    lock_held_case,
)
from moderation.decisions.models import Appeal, Decision
from moderation.decisions.rules import (
    NON_FINDINGS,
    decision_requirements,
    finding_errors,
    missing_fields,
)
from moderation.exchanges.feedback import feedback_queue_for_decision
from moderation.notices.services import notices_for_decision
from moderation.review import guard
from moderation.review.actions import (
    request_actions,
    settle_automated_actions,
    strengthen_actions,
    supersede_actions,
)
from moderation.review.appeals import appeal_settle
from moderation.review.rereview import rereview_sample
from reports.models import ContentItem, Message, Participant


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
    *,
    case: Case,
    action: str,
    intent: str,
    classification: str,
    notes: str = "",
    safety_notice: bool = False,
) -> dict:
    """What is missing or not allowed for this decision on this case ({} when it may be made)."""
    errors = finding_errors(
        action=action, classification=classification, safety_notice=safety_notice
    )
    if action == Decision.Action.SENIOR_REVIEW:
        if case.queue.senior_only:
            errors["action"] = "This case is already in senior review: decide it here."
        elif _senior_queue() is None:
            errors["action"] = "No senior-review queue is active; ask an administrator."
    required = decision_requirements(category=case.category, action=action, queue=case.queue)
    missing = missing_fields(required, intent=intent, classification=classification, notes=notes)
    return {**missing, **errors}


# What removes or restricts content: nothing to act on in a decision about an account.
CONTENT_ACTIONS = frozenset({Decision.Action.REMOVE, Decision.Action.AGE_RESTRICT})


def target_errors(*, case: Case, action: str, target: str, target_ref: str) -> dict:
    """Whether a decision may be about `target` (one of the conversation's messages, by platform
    id, or one of its participants' accounts, by account id; "" for the case's content as a
    whole) on this case ({} when it may)."""
    if target not in {"", *Decision.Target.values}:
        return {"target": "Choose the whole conversation, one message or an account."}
    if not target:
        if target_ref:
            return {"target": "Say what the decision is about: a message or an account."}
        return {}
    item = case.content_item
    if item.type != ContentItem.Type.CONVERSATION:
        return {"target": "Only a decision on a conversation can be about one message or account."}
    if not target_ref:
        what = "message" if target == Decision.Target.MESSAGE else "account"
        return {"target": f"Say which {what} the decision is about."}
    if target == Decision.Target.MESSAGE:
        if not Message.objects.filter(conversation=item, platform_id=target_ref).exists():
            return {"target": f"This conversation has no message “{target_ref}”."}
        return {}
    if not Participant.objects.filter(conversation=item, account_id=target_ref).exists():
        return {"target": f"No participant of this conversation has the account “{target_ref}”."}
    if action in CONTENT_ACTIONS:
        return {
            "action": "A decision about an account removes or restricts no content: choose "
            "an action on the account (warn, safety notice, suspend, escalate), or a message."
        }
    return {}


# What acts against an account (its owner warned, suspended or reported to an authority).
AGAINST_AN_ACCOUNT = frozenset(
    {Decision.Action.WARN, Decision.Action.SUSPEND, Decision.Action.ESCALATE}
)


def minor_referral(*, case: Case, user, action: str, target: str, target_ref: str) -> str:
    """A reviewer's decision against a child's account (a participant who is a minor, or the
    sender of a minor's message) is a senior reviewer's to take: a child in a grooming
    conversation is far more often its victim. "" when it is not one."""
    if action not in AGAINST_AN_ACCOUNT or not target or not guard.is_guarded_for(user):
        return ""
    item = case.content_item
    if target == Decision.Target.MESSAGE:
        minor = Message.objects.filter(
            conversation=item, platform_id=target_ref, sender__role=Participant.Role.MINOR
        ).exists()
    else:
        minor = Participant.objects.filter(
            conversation=item, account_id=target_ref, role=Participant.Role.MINOR
        ).exists()
    if not minor:
        return ""
    return (
        "Sent to senior review because it acts against the account of a participant who is a "
        "minor in this conversation."
    )


def referral_for(*, case: Case, user, action: str, target: str = "", target_ref: str = "") -> str:
    """Why this decision goes to senior review instead of closing the case (guard.py; a child's
    account, minor_referral), or "". ValidationError when it must and no senior-review queue can
    take it."""
    reason = guard.referral_reason(case=case, user=user, action=action) or minor_referral(
        case=case, user=user, action=action, target=target, target_ref=target_ref
    )
    if reason and (case.queue.senior_only or _senior_queue() is None):
        raise ValidationError(
            {"action": f"{reason} No senior-review queue is active; ask an administrator."}
        )
    return reason


def _senior_queue() -> Queue | None:
    return Queue.objects.filter(senior_only=True, is_active=True).order_by("order").first()


@in_transaction
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
    safety_notice: bool = False,
    referral: str = "",
    target: str = "",
    target_ref: str = "",
) -> Decision:
    """Write a decision on a locked, validated case, close (or move) the case and set going what
    the decision asks for. `referral` (referral_for): the decision the reviewer chose is recorded
    as proposed, and the case goes to senior review with that reason instead. `target`,
    `target_ref` (target_errors): what in a conversation the decision is about; the actions it
    asks for act on that (actions.planned_actions)."""
    proposed = ""
    if referral:
        proposed, action, safety_notice = action, Decision.Action.SENIOR_REVIEW, False
    decision = Decision.objects.create(
        case=case,
        reviewer=user,
        action=action,
        policy=policy,
        intent=intent,
        classification=classification,
        notes=notes,
        safety_notice=safety_notice,
        proposed_action=proposed,
        referral_reason=referral,
        target=target,
        target_ref=target_ref,
        created_at=now,
    )
    exposure_record(user=user, kind="decision", case=case)  # in the queue it was decided in
    before = _move_on(case, action=action, classification=classification, now=now)
    appeal = _follow_through(case=case, decision=decision, user=user, now=now)
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
            **({"safety_notice": True} if safety_notice else {}),
            **({"target": target, "target_ref": target_ref} if target else {}),
            **({"proposed_action": proposed, "referral_reason": referral} if referral else {}),
            **({"applied_from_cluster_of": via_case} if via_case else {}),
            **({"appeal": appeal.pk, "appeal_status": appeal.status} if appeal else {}),
        },
        ip=ip,
    )
    return decision


def _move_on(case: Case, *, action: str, classification: str, now) -> dict:
    """Close the decided case (or send it up to senior review) and free it; returns what it was
    before, for the audit record."""
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
        if classification:
            # Found CSAM where it was reported as something else: it belongs with the
            # child-safety queues (their re-reviews, their certified reviewers, their figures).
            case_reroute(case, actor_label="routing: classified A1–B2")
    case.save()
    return before


def _follow_through(*, case: Case, decision: Decision, user, now) -> Appeal | None:
    """What a decision sets going: the appeal it settles, the actions it asks for (or replaces),
    a re-review sample, and the reporters' track records. Returns the appeal it settled."""
    appeal = appeal_settle(case=case, decision=decision, user=user, now=now)
    if appeal is None:
        request_actions(case=case, decision=decision, user=user)
        if decision.action != Decision.Action.SENIOR_REVIEW:
            settle_automated_actions(case=case, decision=decision, user=user)
    elif appeal.status in Appeal.EASED:
        supersede_actions(case=case, old=appeal.decision, new=decision, user=user, source="appeal")
    elif appeal.status == Appeal.Status.STRICTER:
        # Only a milder outcome undoes anything at the platform: the contested actions stand,
        # and what the stricter decision asks beyond them is added.
        strengthen_actions(case=case, old=appeal.decision, new=decision, user=user)
    # Upheld: the appealed decision's actions stand as they are; nothing new is asked.
    if decision.action == Decision.Action.SENIOR_REVIEW:
        # Sending a case up is not a finding: the reporters' records wait for the senior's.
        return appeal
    rereview_sample(decision=decision)
    upheld = decision.action not in NON_FINDINGS
    # The programmes whose entries matched its media hear whether review agreed.
    feedback_queue_for_decision(decision=decision, upheld=upheld)
    if appeal is not None and appeal.status in Appeal.CHANGED:
        # The reporters counted with the appealed decision are judged by its outcome now.
        reporters_revise_outcome(
            case=case, was_upheld=appeal.decision.action not in NON_FINDINGS, upheld=upheld
        )
    reporters_record_outcome(case=case, upheld=upheld)
    notices_for_decision(case=case, decision=decision)  # the reporters who asked to hear back
    return appeal


def case_decide(
    *,
    case_id: int,
    user,
    action: str,
    policy: str,
    intent: str = "",
    classification: str = "",
    notes: str = "",
    safety_notice: bool = False,
    ip: str | None = None,
    seen: str = "",
    target: str = "",
    target_ref: str = "",
) -> Decision:
    """Record a reviewer's decision on a case they hold: on its content as a whole, or on a
    conversation case about one of its messages (`target="message"`, `target_ref` its platform
    id) or one participant's account (`target="account"`, `target_ref` its account id).

    Raises CaseNotHeld when the case is no longer the reviewer's (nothing is recorded),
    CaseChanged when `seen` (the case_version the form was drawn from) is stale, and
    ValidationError when a field the decision needs is missing, the decision is not allowed or
    its target is not part of the conversation.
    On a case with a child-safety signal a reviewer's milder decision is recorded as a referral
    to senior review (guard.py): the returned decision's action says which.
    """
    with transaction.atomic(durable=True):
        case = lock_held_case(case_id=case_id, user=user)
        if seen and seen != case_version(case):
            raise CaseChanged(
                "This case changed while you had it open (a new report, flag or match arrived). "
                "Nothing was recorded: look at it again, then decide."
            )
        errors = decision_errors(
            case=case,
            action=action,
            intent=intent,
            classification=classification,
            notes=notes,
            safety_notice=safety_notice,
        )
        errors = {
            **target_errors(case=case, action=action, target=target, target_ref=target_ref),
            **errors,
        }
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
            safety_notice=safety_notice,
            referral=referral_for(
                case=case, user=user, action=action, target=target, target_ref=target_ref
            ),
            target=target,
            target_ref=target_ref,
            now=timezone.now(),
            ip=ip,
        )


def media_record_view(*, media, case: Case, user, ip: str | None = None, shown: str = ""):
    """Log that a person looked at a media file (feeds "who saw this file" and fileViewedByEsp).
    `shown`: what of a video was shown ("frames": its stills, "video": its player). Returns the
    exposure event (a video's reveal carries the seconds then played)."""
    with transaction.atomic(durable=True):
        audit_record(
            verb="media.viewed",
            obj=media,
            case=case,
            actor=user,
            ip=ip,
            after={"shown": shown} if shown else None,
        )
        return exposure_record(
            user=user, kind="reveal", case=case, video=media.is_video, player=shown == "video"
        )
