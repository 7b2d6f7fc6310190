"""What a decision asks of the platform and the authorities: its enforcement actions and its
escalation, and replacing them when a second look (an appeal, a re-review) changes the decision.
Call inside the decision's transaction."""

from lib.transactions import in_transaction
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from moderation.enforcement.models import EnforcementAction
from moderation.enforcement.services import action_request
from moderation.escalations.services import escalation_open
from moderation.review.appeals import action_reverse_for

# What each decision asks of the platform: (action kind, whether it targets the owner's account).
DECISION_ACTIONS = {
    Decision.Action.REMOVE: [("remove_content", False)],
    Decision.Action.AGE_RESTRICT: [("age_restrict", False)],
    Decision.Action.WARN: [("warn", True)],
    Decision.Action.SAFETY_NOTICE: [("safety_notice", True)],
    Decision.Action.SUSPEND: [("remove_content", False), ("suspend_account", True)],
    Decision.Action.ESCALATE: [("remove_content", False), ("suspend_account", True)],
}


def planned_actions(*, case: Case, action: str) -> list[tuple[str, str]]:
    """(kind, target) of each action a decision of this kind asks the platform for."""
    item = case.content_item
    planned = []
    for kind, on_owner in DECISION_ACTIONS.get(action, []):
        target = item.owner_id if on_owner else (item.platform_id or item.url)
        if target:
            planned.append((kind, target))
    return planned


@in_transaction
def request_actions(*, case: Case, decision: Decision, user, skip=frozenset()) -> None:
    """Record what the decision asks the platform to do, and open the escalation it calls for.
    Delivery to the platform is separate (pending until delivered). `skip`: (kind, target) pairs
    already in force from a decision this one replaces."""

    reason = f"decision {decision.pk}: {decision.get_action_display()} under {decision.policy}"
    for kind, target in planned_actions(case=case, action=decision.action):
        if (kind, target) not in skip:
            action_request(
                case=case, kind=kind, target=target, reason=reason, decision=decision, user=user
            )
    if decision.action == Decision.Action.ESCALATE:
        escalation_open(case=case, reason=reason, user=user)


@in_transaction
def supersede_actions(
    *, case: Case, old: Decision, new: Decision, user, source: str = "review"
) -> None:
    """`new` replaces `old` (an appeal overturned it, or a supervisor sided with a re-review):
    reverse what `old` asked of the platform that `new` does not ask too, keep what both ask
    (asking the platform to undo and redo it would be noise), and request the rest of `new`'s.
    An escalation already opened stays: a report to an authority is withdrawn by people."""

    wanted = set(planned_actions(case=case, action=new.action))
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
    request_actions(case=case, decision=new, user=user, skip=kept)
