"""Rolling many arrivals up into their cases at once (a batch of flags), in a bounded number of
statements whatever the batch's size.

The rules are rollup.py's — join the item's open case, else reopen or count on its last decided
case, else open one; take a more severe category, a child's involvement or a new source and route
again; release a holder who has not seen what an arrival brings — applied to one arrival after
another in memory, in order. What case_attach reads for each arrival (the item's cases under lock,
the queues, what a case has been reported for, the banks its media matched, whether a decision
classified it) is read once for the whole batch, under the same locks; what it writes is written
at the end: new cases in one INSERT, changed ones in one UPDATE. The audit events go, in the order
case_attach would have recorded them, into the list the caller writes with audit_record_many.

So the stored result is what case_attach, case_count_flag and case_refresh_priority give called
once per arrival (tests/reports/test_flag_batch_equivalence.py compares the two on the same input).
Timestamps aside: one `now` serves the whole batch.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.cases.models import Case, Queue
from moderation.cases.priority import compute_priority
from moderation.cases.rollup import Outcome, case_count_flag, case_priority_inputs
from moderation.cases.route_rules import KNOWN_MATERIAL_POLICY, RouteInput
from moderation.cases.routing import MATCH_FIELDS, counts_for_routing
from moderation.cases.weights import current_weights
from reports.categories import SEVERITY
from reports.models import ContentItem, Flag, Media, Report

# What a case's save() would write that intake can change (the case_refresh_priority save).
CASE_FIELDS = [
    "queue",
    "status",
    "category",
    "involves_child",
    "sources",
    "assignee",
    "lease_expires_at",
    "waiting_since",
    "decided_at",
    "flags_count",
    "max_flag_score",
    "priority",
    "priority_breakdown",
    "updated_at",
]


@dataclass(frozen=True)
class BatchArrival:
    """One flag of the batch as its case sees it (rollup.Arrival), with the content item as this
    arrival left it: a later arrival of the batch may tell the item's language or a larger reach,
    which must not route or weigh this one."""

    content_item: ContentItem
    category: str
    involves_child: bool
    source: str
    actor_label: str
    language: str
    reach: int | None
    media_sha256s: frozenset[str] = frozenset()
    language_is_new: bool = False


@dataclass
class _Seen:
    """What case_novelty and case_route_input read of an existing case, read once."""

    categories: set[str] = dataclasses.field(default_factory=set)
    media: set[str] = dataclasses.field(default_factory=set)
    bank_ids: frozenset[int] = frozenset()
    known_material: bool = False


class CaseRollupBatch:
    """The cases of a batch's content items, attached to in memory and saved at the end.

    `existing_items`: the batch's content items already in the database (their cases are locked
    and read now); items created by the batch have no cases yet. `audit`: the caller's list of
    audit_record keyword arguments, appended to in order."""

    @in_transaction
    def __init__(self, *, existing_items: Sequence[ContentItem], audit: list[dict], now=None):
        self.audit = audit
        self.now = now or timezone.now()
        self.weights = current_weights()
        self._queues: list[Queue] | None = None
        self._listed: dict[int, set[int]] | None = None
        self._new: list[Case] = []
        self._changed: dict[int, Case] = {}
        self._cases: dict[int, list[Case]] = {}  # by content item (its pk, or id() when new)
        self._seen: dict[int, _Seen] = {}  # by case pk, for existing cases only
        items = {item.pk: item for item in existing_items}
        if not items:
            return
        # Every case of the items, locked in one statement in id order (so two batches lock
        # alike), newest first per item as case_attach reads them.
        locked = (
            Case.objects.select_for_update(of=("self",))
            .select_related("queue", "assignee")
            .filter(content_item_id__in=list(items))
            .order_by("pk")
        )
        for case in locked:
            case.content_item = items[case.content_item_id]
            self._cases.setdefault(case.content_item_id, []).append(case)
        for cases in self._cases.values():
            cases.sort(key=lambda c: c.created_at, reverse=True)
        self._read_seen()

    def _read_seen(self) -> None:
        """For the one case each item's arrivals can reach (its open case, else its latest), what
        novelty and routing look at: the categories and media it has, the banks its media
        matched, whether a decision classified its material."""
        current = {}
        for cases in self._cases.values():
            case = next((c for c in cases if c.status == Case.Status.OPEN), cases[0])
            current[case.pk] = case
            self._seen[case.pk] = _Seen()
        if not current:
            return
        ids = list(current)
        for model in (Report, Flag):
            for case_id, category in (
                model.objects.filter(case_id__in=ids).values_list("case_id", "category").distinct()
            ):
                self._seen[case_id].categories.add(category)
        banks: dict[int, set[tuple[int, str]]] = {}
        rows = (
            Media.objects.filter(Q(report__case_id__in=ids) | Q(flag__case_id__in=ids))
            .values_list("report__case_id", "flag__case_id", "sha256", *MATCH_FIELDS)
            .distinct()
        )
        for report_case, flag_case, sha256, bank_id, policy, *governance in rows:
            case_id = report_case or flag_case
            self._seen[case_id].media.add(sha256)
            if bank_id is not None and counts_for_routing(*governance):
                banks.setdefault(case_id, set()).add((bank_id, policy))
        classified = set(
            Case.objects.filter(pk__in=ids, decisions__classification__gt="")
            .values_list("pk", flat=True)
            .distinct()
        )
        for case_id, seen in self._seen.items():
            matched = banks.get(case_id, set())
            seen.bank_ids = frozenset(bank_id for bank_id, _ in matched)
            seen.known_material = case_id in classified or any(
                policy == KNOWN_MATERIAL_POLICY for _, policy in matched
            )

    # -- case_attach, one arrival at a time ------------------------------------------------

    def attach(self, arrival: BatchArrival) -> tuple[Case, str]:
        """rollup.case_attach for one arrival; the arrival's category and media then count as
        seen on the case it joined (its flag is stored there)."""
        cases = self._cases.setdefault(self._item_key(arrival.content_item), [])
        current = next((c for c in cases if c.status == Case.Status.OPEN), None)
        if current is not None:
            case, outcome = self._join(current, arrival), Outcome.JOINED
        elif cases:
            case, outcome = self._reopen_or_count(cases[0], arrival)
        else:
            case, outcome = self._open(arrival), Outcome.OPENED
            cases.insert(0, case)
        seen = self._seen.get(case.pk) if case.pk else None
        if seen is not None:
            seen.categories.add(arrival.category)
            seen.media |= arrival.media_sha256s
        return case, outcome

    @staticmethod
    def _item_key(item: ContentItem) -> int:
        return item.pk if item.pk is not None else -id(item)

    def _novelty(self, case: Case, arrival: BatchArrival) -> list[str]:
        # rollup.case_novelty on what was read, plus what this batch brought so far. Only an
        # existing case is ever held or decided: a case the batch opened is neither.
        seen = self._seen[case.pk]
        reasons = []
        if arrival.category not in seen.categories:
            reasons.append(f"new category {arrival.category}")
        if arrival.involves_child and not case.involves_child:
            reasons.append("now reported as involving a child")
        if arrival.media_sha256s and arrival.media_sha256s - seen.media:
            reasons.append("new media")
        return reasons

    def _reopen_or_count(self, latest: Case, arrival: BatchArrival) -> tuple[Case, str]:
        reasons = self._novelty(latest, arrival)
        if not reasons:
            return latest, Outcome.COUNTED
        latest.status = Case.Status.OPEN
        latest.decided_at = None
        latest.waiting_since = self.now
        self._absorb(latest, arrival, reopened=True, reroute=True)
        self.audit.append(
            {
                "verb": "case.reopened",
                "obj": latest,
                "case": latest,
                "actor_label": arrival.actor_label,
                "before": {"status": "decided"},
                "after": {"status": "open", "queue": latest.queue.slug, "reasons": reasons},
            }
        )
        return latest, Outcome.REOPENED

    def _join(self, current: Case, arrival: BatchArrival) -> Case:
        if current.assignee_id is not None and (reasons := self._novelty(current, arrival)):
            self.audit.append(
                {
                    "verb": "case.released",
                    "obj": current,
                    "case": current,
                    "actor_label": arrival.actor_label,
                    "before": {"assignee": current.assignee.get_username()},
                    "after": {"assignee": None, "reasons": reasons},
                }
            )
            current.assignee = None
            current.lease_expires_at = None
        self._absorb(current, arrival, reroute=arrival.language_is_new)
        return current

    def _open(self, arrival: BatchArrival) -> Case:
        route = RouteInput(
            category=arrival.category,
            involves_child=arrival.involves_child,
            sources=frozenset([arrival.source]),
            language=arrival.language,
        )
        case = Case(
            content_item=arrival.content_item,
            category=arrival.category,
            involves_child=arrival.involves_child,
            sources=[arrival.source],
            queue=self._route(route),
            created_at=self.now,
            waiting_since=self.now,
            updated_at=self.now,
        )
        self._new.append(case)
        self.audit.append(
            {
                "verb": "case.opened",
                "obj": case,
                "case": case,
                "actor_label": arrival.actor_label,
                "after": {"queue": case.queue.slug, "category": case.category},
            }
        )
        return case

    def _absorb(
        self, case: Case, arrival: BatchArrival, *, reopened: bool = False, reroute: bool = False
    ) -> None:
        changed = reroute
        if SEVERITY[arrival.category] > SEVERITY[case.category]:
            case.category, changed = arrival.category, True
        if arrival.involves_child and not case.involves_child:
            case.involves_child, changed = True, True
        if arrival.source not in case.sources:
            case.sources, changed = [*case.sources, arrival.source], True
        if changed:
            self._reroute(case, arrival, reopened=reopened)

    def _reroute(self, case: Case, arrival: BatchArrival, *, reopened: bool) -> None:
        # routing.case_reroute, with case_route_input's reads done once (_read_seen): media the
        # batch adds are not hashed yet, so they match no bank.
        if case.queue.holds_cases(reopened=reopened):
            return
        seen = self._seen.get(case.pk) if case.pk else None
        queue = self._route(
            RouteInput(
                category=case.category,
                involves_child=case.involves_child,
                sources=frozenset(case.sources),
                language=arrival.language,
                bank_ids=seen.bank_ids if seen else frozenset(),
                known_material=seen.known_material if seen else False,
            )
        )
        if queue.pk == case.queue_id:
            return
        self.audit.append(
            {
                "verb": "case.rerouted",
                "obj": case,
                "case": case,
                "actor_label": "routing",
                "before": {"queue": case.queue.slug},
                "after": {"queue": queue.slug, "category": case.category},
            }
        )
        case.queue = queue

    def _route(self, route: RouteInput) -> Queue:
        # routing.queue_route, the queues read once per batch.
        if self._queues is None:
            self._queues = list(Queue.objects.routable())
        listed = {}
        if route.bank_ids:
            if self._listed is None:
                self._listed = {}
                for queue_id, bank_id in Queue.banks.through.objects.filter(
                    queue__in=[q.pk for q in self._queues],
                    queue__bank_rule=Queue.BankRule.LISTED,
                ).values_list("queue_id", "hashbank_id"):
                    self._listed.setdefault(queue_id, set()).add(bank_id)
            listed = self._listed
        for queue in self._queues:
            if queue.matches(route, bank_ids=listed.get(queue.pk)):
                return queue
        raise Queue.DoesNotExist(
            "No active queue accepts this case: add a catch-all queue (no rules) in the admin."
        )

    # -- counting and priority -------------------------------------------------------------

    def count_flag(self, case: Case, *, score: float, reach: int | None) -> int:
        """case_count_flag then case_refresh_priority (without its save), with the item's reach
        as this arrival left it. Returns the case's priority, for the flag's audit event."""
        case_count_flag(case, score=score)
        inputs = dataclasses.replace(case_priority_inputs(case), reach=reach)
        case.priority, case.priority_breakdown = compute_priority(
            inputs, now=self.now, weights=self.weights
        )
        case.updated_at = self.now
        if case.pk is not None:
            self._changed[case.pk] = case
        return case.priority

    # -- writing ---------------------------------------------------------------------------

    @in_transaction
    def save(self) -> None:
        """Insert the cases the batch opened (their content items saved by now) and update the
        ones it changed: two statements."""
        if self._new:
            Case.objects.bulk_create(self._new)
        if self._changed:
            Case.objects.bulk_update(
                sorted(self._changed.values(), key=lambda c: c.pk), CASE_FIELDS
            )
