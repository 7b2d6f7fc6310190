"""Routing: which queue a case belongs in, by the queues' rules in their explicit order.

A queue's rules: categories, involves a child, sources, languages, bank matches (the "known
material" rule also takes a case whose material a decision classified A1-B2: child-safety signals
route a case whatever category its reporter chose). A case goes to the
first routable queue (lowest `order`) all of whose rules match it; an empty rule matches anything.
Queues reached only by people's actions (senior review; see models.PEOPLE_ONLY_FLAGS) are never
routed to, and a case in one is never routed out of it.
"""

from django.db.models import Q

from moderation.audit.services import audit_record
from moderation.cases.models import Case, Queue
from moderation.cases.route_rules import KNOWN_MATERIAL_POLICY, RouteInput
from reports.models import Media

# What routing reads of a case's media's matches: the bank and its policy, and what says whether
# the match counts (moderation/banks/policy.py, ACTING: not suppressed by an allow-list match,
# not withdrawn, its entry not quarantined, not an allow-list bank's own). Read as columns and
# sorted out in Python (counted_banks): this layer sits below the banks' code.
MATCH_FIELDS = (
    "matches__entry__bank_id",
    "matches__entry__bank__policy",
    "matches__suppressed_by",
    "matches__withdrawn_at",
    "matches__entry__quarantined_at",
    "matches__entry__bank__is_allow_list",
)


def counts_for_routing(suppressed_by, withdrawn_at, quarantined_at, is_allow_list) -> bool:
    return (
        suppressed_by is None
        and withdrawn_at is None
        and quarantined_at is None
        and not (is_allow_list)
    )


def queue_route(route: RouteInput) -> Queue:
    """The first routable queue, in rule order, whose rules all match."""
    queues = Queue.objects.routable()
    listed = {}
    if route.bank_ids:
        # Only a case with matches can satisfy a "listed banks" rule: read the lists only then.
        for queue_id, bank_id in Queue.banks.through.objects.filter(
            queue__in=queues, queue__bank_rule=Queue.BankRule.LISTED
        ).values_list("queue_id", "hashbank_id"):
            listed.setdefault(queue_id, set()).add(bank_id)
    for queue in queues:
        if queue.matches(route, bank_ids=listed.get(queue.pk)):
            return queue
    raise Queue.DoesNotExist(
        "No active queue accepts this case: add a catch-all queue (no rules) in the admin."
    )


def case_route_input(case: Case) -> RouteInput:
    """Everything routing looks at for an existing case. Reads the banks its media matched, with
    their policies as they are now (bounded by the case's own media), so it is for reroutes, not
    for every report."""
    matched = (
        Media.objects.filter(Q(report__case=case) | Q(flag__case=case))
        .values_list(*MATCH_FIELDS)
        .distinct()
    )
    banks = {
        (bank_id, policy)
        for bank_id, policy, *governance in matched
        if bank_id is not None and counts_for_routing(*governance)
    }
    # A decision that classified the material A1-B2 found CSAM, whatever it was reported as.
    classified = case.decisions.exclude(classification="").exists()
    return RouteInput(
        category=case.category,
        involves_child=case.involves_child,
        sources=frozenset(case.sources),
        language=case.content_item.language,
        bank_ids=frozenset(bank_id for bank_id, _ in banks),
        known_material=classified or any(policy == KNOWN_MATERIAL_POLICY for _, policy in banks),
    )


def case_reroute(case: Case, *, actor_label: str = "routing", reopened: bool = False):
    """Move a locked case to the queue its rules now pick, unless it is in a queue that holds its
    cases (Queue.holds_cases). The caller saves the case. Returns the new queue, or None."""
    if case.queue.holds_cases(reopened=reopened):
        return None
    queue = queue_route(case_route_input(case))
    if queue.pk == case.queue_id:
        return None
    audit_record(
        verb="case.rerouted",
        obj=case,
        case=case,
        actor_label=actor_label,
        before={"queue": case.queue.slug},
        after={"queue": queue.slug, "category": case.category},
    )
    case.queue = queue
    return queue
