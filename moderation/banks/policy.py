"""What a match to a bank does to a case, by the bank's policy: raise its priority, route it, or
(known material) put it at the very top, ask for removal and suspension and open the owner's
escalation. Vigil records; the platform enforces; a person sees it all on the case."""

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.banks.models import HashBank
from moderation.cases.models import Case
from moderation.cases.priority import BankMatch
from moderation.cases.routing import case_reroute
from moderation.enforcement.models import EnforcementAction
from moderation.enforcement.services import action_request
from moderation.escalations.services import escalation_open


@in_transaction
def case_apply_matches(*, case: Case, banks) -> list[str]:
    """Act on bank matches of a case's media, by each bank's policy, and route the case again
    (queues may have bank rules). Call inside a transaction with the case locked. Returns what
    was done, for the audit record."""
    done = []
    routed_by_bank = False
    for bank in banks:
        known = bank.policy == HashBank.Policy.ACT_AND_ESCALATE
        level = BankMatch.KNOWN_MATERIAL if known else BankMatch.BANK
        if level > case.bank_match_level:
            label = "known-material" if known else "bank"
            case.bank_match_label = f"{label} match: {bank.name}"[:150]
            case.bank_match_level = level
            done.append(f"priority raised: {label} match ({bank.name})")
        if known:
            done.extend(_act_on_known_material(case, bank))
        if bank.policy == HashBank.Policy.ROUTE and case.queue.routable:
            # The bank names its queue: that wins over the queues' own rules.
            routed_by_bank = True
            if bank.route_to_id != case.queue_id:
                audit_record(
                    verb="case.rerouted",
                    obj=case,
                    case=case,
                    actor_label=f"bank {bank.slug}",
                    before={"queue": case.queue.slug},
                    after={"queue": bank.route_to.slug},
                )
                case.queue = bank.route_to
                done.append(f"routed to {bank.route_to.slug} ({bank.name})")
    if not routed_by_bank:
        queue = case_reroute(case, actor_label="routing: bank match")
        if queue is not None:
            done.append(f"routed to {queue.slug} (queue rules)")
    return done


def _act_on_known_material(case: Case, bank) -> list[str]:
    """What platforms do at once for known CSAM: ask for the content's removal and the owner's
    suspension, and open an escalation. A reviewer still sees the case at the top of the queue
    and can reverse any of it."""
    item = case.content_item
    reason = f"match to known-material bank {bank.slug}"
    label = f"bank {bank.slug}"
    done = []
    content = item.platform_id or item.url
    if content and action_request(
        case=case,
        kind=EnforcementAction.Kind.REMOVE_CONTENT,
        target=content,
        reason=reason,
        actor_label=label,
    ):
        done.append("content removal requested")
    if item.owner_id and action_request(
        case=case,
        kind=EnforcementAction.Kind.SUSPEND_ACCOUNT,
        target=item.owner_id,
        reason=reason,
        actor_label=label,
    ):
        done.append("account suspension requested")
    escalation = escalation_open(case=case, reason=reason, actor_label=label)
    done.append(f"escalation {escalation.pk} ({escalation.status})")
    return done
