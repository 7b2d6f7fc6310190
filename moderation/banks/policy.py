"""What a match to a bank does to a case, by the bank's policy: raise its priority, route it, or
(known material) put it at the very top, ask for removal and suspension and open the owner's
escalation. Vigil records; the platform enforces; a person sees it all on the case.

Only matches that count act (ACTING; moderation/banks/governance.py says why one does not)."""

from django.db.models import Q

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.banks.models import HashBank, Match
from moderation.cases.models import Case
from moderation.cases.priority import BankMatch
from moderation.cases.routing import case_reroute
from moderation.enforcement.models import EnforcementAction
from moderation.enforcement.services import action_request
from moderation.escalations.services import escalation_open

# Matches a bank's policy acts on: not suppressed by an allow-list match, not withdrawn, not of a
# quarantined entry, and not an allow-list bank's own (those only suppress).
ACTING = Q(
    suppressed_by__isnull=True,
    withdrawn_at__isnull=True,
    entry__quarantined_at__isnull=True,
    entry__bank__is_allow_list=False,
)


@in_transaction
def case_apply_matches(*, case: Case, banks, act: bool = True) -> list[str]:
    """Act on bank matches of a case's media, by each bank's policy, and route the case again
    (queues may have bank rules). Call inside a transaction with the case locked. Returns what
    was done, for the audit record. `act` False: priority and routing only, no enforcement or
    escalation (case_reapply_matches)."""
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
        if known and act:
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


@in_transaction
def case_reapply_matches(*, case: Case) -> list[str]:
    """Bring a locked case's bank match level and routing to what the matches of its media that
    still count say (ACTING), after some stopped counting (withdrawn, suppressed) or started
    again (an entry released from quarantine). Never acts: enforcement asked for and escalations
    opened stay, for a person to reverse, and matches recorded while they did not count are not
    acted on afterwards; the case's priority and queue follow the matches that count now."""
    counting = Match.objects.filter(ACTING).filter(
        Q(media__report__case=case) | Q(media__flag__case=case)
    )
    banks = sorted(
        HashBank.objects.filter(pk__in=counting.values("entry__bank_id")).select_related(
            "route_to"
        ),
        # The strongest first, so the label names the bank that set the level.
        key=lambda b: (b.policy != HashBank.Policy.ACT_AND_ESCALATE, b.name, b.pk),
    )
    before = case.bank_match_level
    case.bank_match_level, case.bank_match_label = BankMatch.NONE, ""
    done = [d for d in case_apply_matches(case=case, banks=banks, act=False) if "raised" not in d]
    if case.bank_match_level != before:
        done.insert(0, f"bank match level {before} -> {case.bank_match_level}")
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
