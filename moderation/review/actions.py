"""What a decision asks of the platform and the authorities: its enforcement actions and its
escalation, and replacing them when a second look (an appeal, a re-review) changes the decision.
Call inside the decision's transaction."""

from lib.transactions import in_transaction
from moderation.banks.confirmed import decision_confirm_media, decision_withdraw_confirmation
from moderation.cases.accounts import acted_on_evidence, evidence_targets
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from moderation.decisions.rules import is_csam_finding
from moderation.enforcement.models import EnforcementAction
from moderation.enforcement.services import action_request
from moderation.escalations.services import escalation_gather, escalation_open
from moderation.review.appeals import action_reverse_for
from reports.models import ContentItem, Message, Participant

# What each decision asks of the platform: (action kind, whether it targets the owner's account).
DECISION_ACTIONS = {
    Decision.Action.REMOVE: [("remove_content", False)],
    Decision.Action.AGE_RESTRICT: [("age_restrict", False)],
    Decision.Action.WARN: [("warn", True)],
    Decision.Action.SAFETY_NOTICE: [("safety_notice", True)],
    Decision.Action.SUSPEND: [("remove_content", False), ("suspend_account", True)],
    Decision.Action.ESCALATE: [("remove_content", False), ("suspend_account", True)],
}


def planned_actions(*, case: Case, decision: Decision) -> list[tuple[str, str]]:
    """(kind, target) of each action a decision asks the platform for: its action's, and a
    safety notice added to it. On a conversation they act on what the decision is about: one
    message (removed; its sender's account warned or suspended), one participant's account (no
    content removed), or the whole conversation (its reported participants' accounts, else its
    owner's)."""
    wanted = _wanted(decision)
    if not wanted:
        return []
    return _plan(wanted, *_targets(case=case, decision=decision))


def _wanted(decision: Decision) -> list[tuple[str, bool]]:
    wanted = list(DECISION_ACTIONS.get(decision.action, []))
    if decision.safety_notice:
        wanted.append(("safety_notice", True))
    return wanted


def _plan(
    wanted: list[tuple[str, bool]], content: list[str], accounts: list[str]
) -> list[tuple[str, str]]:
    return [
        (kind, target)
        for kind, on_owner in wanted
        for target in (accounts if on_owner else content)
        if target
    ]


def _account_of(item: ContentItem) -> str:
    """The account an account case is about."""
    return item.platform_id or item.owner_id


def _targets(
    *, case: Case, decision: Decision, evidence: list[Case] | None = None
) -> tuple[list[str], list[str]]:
    """What a decision's content actions and account actions act on: platform ids."""
    item = case.content_item
    if decision.target == Decision.Target.MESSAGE:
        sender = (
            Message.objects.filter(conversation=item, platform_id=decision.target_ref)
            .values_list("sender__account_id", flat=True)
            .first()
        )
        return [decision.target_ref], [sender] if sender else []
    if decision.target == Decision.Target.ACCOUNT:
        return [], [decision.target_ref]
    if item.type == ContentItem.Type.ACCOUNT:
        # An account case acts on all of its evidence: the account, and each reported thing it
        # posted or sent (moderation/cases/accounts.py), never the account's id as content.
        account = _account_of(item)
        if evidence is None:
            evidence = acted_on_evidence(account)
        return evidence_targets(account, evidence), [account]
    content = [item.platform_id or item.url]
    if item.type == ContentItem.Type.CONVERSATION:
        # The accounts the reports are about, not everyone in the conversation (a child in it).
        reported = list(
            Participant.objects.filter(conversation=item, reported=True)
            .order_by("pk")
            .values_list("account_id", flat=True)
        )
        if reported:
            return content, reported
    return content, [item.owner_id]


@in_transaction
def request_actions(*, case: Case, decision: Decision, user, skip=frozenset()) -> None:
    """Record what the decision asks the platform to do, and open the escalation it calls for.
    Delivery to the platform is separate (pending until delivered). `skip`: (kind, target) pairs
    already in force from a decision this one replaces."""

    reason = f"decision {decision.pk}: {decision.get_action_display()} under {decision.policy}"
    item = case.content_item
    wanted = _wanted(decision)
    # An account case's evidence is read once: its actions and its escalation act on the same.
    evidence = (
        acted_on_evidence(_account_of(item))
        if wanted and item.type == ContentItem.Type.ACCOUNT
        else None
    )
    content, accounts = (
        _targets(case=case, decision=decision, evidence=evidence) if wanted else ([], [])
    )
    for kind, target in _plan(wanted, content, accounts):
        if (kind, target) not in skip:
            action_request(
                case=case, kind=kind, target=target, reason=reason, decision=decision, user=user
            )
    if decision.action == Decision.Action.ESCALATE:
        # About one participant (or the sender of one message): that account is the one reported.
        named = accounts if decision.target else []
        escalation = escalation_open(
            case=case, reason=reason, user=user, owner=named[0] if named else None
        )
        if evidence is not None:
            # The report about the account carries its evidence: the conversations and posts.
            escalation_gather(
                escalation=escalation,
                cases=evidence,
                reason=f"evidence of account case {case.pk}",
                user=user,
            )
    if is_csam_finding(action=decision.action, classification=decision.classification):
        # Found CSAM: its copies are known material from now on (moderation/banks/confirmed.py).
        decision_confirm_media(decision=decision)


@in_transaction
def settle_automated_actions(*, case: Case, decision: Decision, user) -> int:
    """A person decided the case: what a bank policy asked of the platform on its own and the
    decision does not ask is reversed — a senior reviewer who finds a known-material match to be
    a false positive undoes the removal and suspension with their decision, not by hand. (The
    escalation the bank opened stays for a person to withdraw; its page says the case was
    cleared.) Returns how many actions were reversed."""
    wanted = set(planned_actions(case=case, decision=decision))
    automated = case.actions.select_for_update().filter(decision__isnull=True)
    reversed_ = 0
    for enforcement in automated.exclude(status=EnforcementAction.Status.REVERSED).order_by("pk"):
        if (enforcement.kind, enforcement.target) in wanted:
            continue
        action_reverse_for(
            action=enforcement,
            user=user,
            reason=f"not upheld by decision {decision.pk} ({decision.get_action_display()})",
        )
        reversed_ += 1
    return reversed_


@in_transaction
def strengthen_actions(*, case: Case, old: Decision, new: Decision, user) -> None:
    """`new` asks more than `old` (an appeal made it stricter): keep everything `old` asked and
    request what `new` adds."""
    live = old.actions.exclude(status=EnforcementAction.Status.REVERSED).exclude(
        status=EnforcementAction.Status.FAILED
    )
    request_actions(
        case=case, decision=new, user=user, skip=set(live.values_list("kind", "target"))
    )


@in_transaction
def supersede_actions(
    *, case: Case, old: Decision, new: Decision, user, source: str = "review"
) -> None:
    """`new` replaces `old` (an appeal overturned it, or a supervisor sided with a re-review):
    reverse what `old` asked of the platform that `new` does not ask too, keep what both ask
    (asking the platform to undo and redo it would be noise), and request the rest of `new`'s.
    An escalation already opened stays: a report to an authority is withdrawn by people. Hashes
    `old` added to the confirmed-by-review bank are withdrawn."""

    wanted = set(planned_actions(case=case, decision=new))
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
    # What `old` taught the confirmed bank goes with it; `new` teaches its own, if it finds CSAM.
    decision_withdraw_confirmation(
        decision=old, by=user, reason=f"decision {old.pk} superseded by decision {new.pk}"
    )
    request_actions(case=case, decision=new, user=user, skip=kept)
