"""Routing: which queue a case belongs in, by the queues' rules in their explicit order.

A queue's rules: categories, involves a child, sources, languages, bank matches. A case goes to the
first routable queue (lowest `order`) all of whose rules match it; an empty rule matches anything.
Queues reached only by people's actions (senior review; see models.PEOPLE_ONLY_FLAGS) are never
routed to, and a case in one is never routed out of it.
"""

import re
from dataclasses import dataclass, field

from django.db.models import Q

from moderation.audit.services import audit_record
from moderation.cases.models import Case, Queue

# Sources a queue rule can name: the public form, the platform API's user reports, any automated
# flag, or flags from one named source ("flag:<source>", the `source` the flag API was given).
FORM, API, ANY_FLAG = "form", "api", "flag"
FLAG_PREFIX = "flag:"

# RFC 5646 language tags, the parts people use: a 2-3 letter language (the 5-8 letter form is
# reserved and unused, and would let words like "english" through), optional script, region,
# variants and private use. Plain syntax, so the OpenAPI document can carry it as a pattern.
BCP47_PATTERN = (
    r"^[A-Za-z]{2,3}"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-x(?:-[A-Za-z0-9]{1,8})+)?$"
)
BCP47 = re.compile(BCP47_PATTERN)


def normalise_language(value: str) -> str:
    """A BCP 47 tag in its conventional case ("pt-br" -> "pt-BR", "ZH-hant" -> "zh-Hant"), or
    ValueError. Empty stays empty."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > 35 or not BCP47.match(value):
        raise ValueError(f"{value!r} is not a BCP 47 language tag (e.g. en, pt-BR, zh-Hant)")
    out = []
    for i, part in enumerate(value.split("-")):
        if i and len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif i and len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def language_matches(rule_tags: list[str], language: str) -> bool:
    """RFC 4647 basic filtering: "pt" matches "pt" and "pt-BR"; unknown language matches none."""
    language = language.lower()
    if not language:
        return False
    return any(language == t.lower() or language.startswith(t.lower() + "-") for t in rule_tags)


def source_of_flag(source: str) -> str:
    return f"{FLAG_PREFIX}{source}"


def source_matches(rule_sources: list[str], sources) -> bool:
    for wanted in rule_sources:
        if wanted == ANY_FLAG:
            if any(s.startswith(FLAG_PREFIX) for s in sources):
                return True
        elif wanted in sources:
            return True
    return False


def source_rule_error(value: str) -> str | None:
    if value in (FORM, API, ANY_FLAG):
        return None
    if value.startswith(FLAG_PREFIX) and 0 < len(value) - len(FLAG_PREFIX) <= 100:
        return None
    return (
        f"{value!r}: use form, api, flag (any automated flag) or flag:<source name> "
        "(e.g. flag:nudity-classifier)"
    )


@dataclass(frozen=True)
class RouteInput:
    category: str
    involves_child: bool
    sources: frozenset[str] = frozenset()
    language: str = ""
    bank_ids: frozenset[int] = field(default_factory=frozenset)
    known_material: bool = False


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
    """Everything routing looks at for an existing case. Reads its bank matches (bounded by the
    case's own media), so it is for reroutes, not for every report."""
    from moderation.banks.models import HashBank, Match

    banks = set(
        Match.objects.filter(Q(media__report__case=case) | Q(media__flag__case=case))
        .values_list("entry__bank_id", "entry__bank__policy")
        .distinct()
    )
    return RouteInput(
        category=case.category,
        involves_child=case.involves_child,
        sources=frozenset(case.sources),
        language=case.content_item.language,
        bank_ids=frozenset(bank_id for bank_id, _ in banks),
        known_material=any(p == HashBank.Policy.ACT_AND_ESCALATE for _, p in banks),
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
