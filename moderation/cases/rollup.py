"""Rolling reports and flags up into cases: routing, reopening, counting, priority.

Called by the intake services (reports/services.py) inside their transaction.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.cases.models import Case
from moderation.cases.priority import PriorityInputs, Weights, compute_priority
from moderation.cases.route_rules import RouteInput
from moderation.cases.routing import case_reroute, queue_route
from moderation.cases.weights import current_weights
from reports.categories import SEVERITY
from reports.models import Media, ReporterIdentity


class Outcome:
    OPENED = "opened"  # a new case
    JOINED = "joined"  # the item's open case
    REOPENED = "reopened"  # a decided case, back in a queue because the report brings something new
    COUNTED = "counted"  # a decided case, counted but not requeued: nothing new to decide


def case_novelty(
    case: Case, *, category: str, involves_child: bool, media_sha256s: frozenset[str]
) -> list[str]:
    """What a new report would bring to a decided case; empty when it brings nothing new."""

    reasons = []
    seen = set(case.reports.values_list("category", flat=True)) | set(
        case.flags.values_list("category", flat=True)
    )
    if category not in seen:
        reasons.append(f"new category {category}")
    if involves_child and not case.involves_child:
        reasons.append("now reported as involving a child")
    if media_sha256s:
        known = set(
            Media.objects.filter(Q(report__case=case) | Q(flag__case=case)).values_list(
                "sha256", flat=True
            )
        )
        if media_sha256s - known:
            reasons.append("new media")
    return reasons


@dataclass(frozen=True)
class Arrival:
    """A report or flag arriving about a content item, as the case it joins sees it.

    `source` is where it came from (route_rules.FORM, API or source_of_flag(...));
    `language_is_new` says this intake told us the content's language for the first time: both
    are routing inputs, so the case is routed again when they change.
    """

    category: str
    involves_child: bool
    source: str
    actor_label: str
    media_sha256s: frozenset[str] = frozenset()
    language_is_new: bool = False
    # What else the intake found new, in words (e.g. messages of a conversation reported for the
    # first time): reopens a decided case like a new category does.
    news: tuple[str, ...] = ()


@in_transaction
def case_attach(
    *,
    content_item,
    category: str,
    involves_child: bool,
    source: str,
    media_sha256s: frozenset[str] = frozenset(),
    language_is_new: bool = False,
    news: tuple[str, ...] = (),
    actor_label: str,
) -> tuple[Case, str]:
    """The case a new report or flag about `content_item` belongs to.

    Joins the item's open case; else reopens its last decided case if the report brings something
    new (a category or media not seen before), or counts it there without requeueing; else opens a
    new case. All cases of the item are locked first, so concurrent reports about one item queue
    up behind each other instead of opening two cases.
    """
    arrival = Arrival(
        category=category,
        involves_child=involves_child,
        source=source,
        actor_label=actor_label,
        media_sha256s=media_sha256s,
        language_is_new=language_is_new,
        news=news,
    )
    # Locked in id order, as a batch of flags locks them (moderation/cases/rollup_batch.py): two
    # writers locking one item's cases in opposite orders would deadlock. Read newest first.
    cases = list(Case.objects.select_for_update().filter(content_item=content_item).order_by("pk"))
    cases.sort(key=lambda c: c.created_at, reverse=True)
    for c in cases:
        c.content_item = content_item  # routing and priority read it: no query for it again
    current = next((c for c in cases if c.status == Case.Status.OPEN), None)
    if current is not None:
        return _join(current, arrival), Outcome.JOINED
    if cases:
        return _reopen_or_count(cases[0], arrival)
    return _open(content_item, arrival)


def _novelty(case: Case, arrival: Arrival) -> list[str]:
    return [
        *case_novelty(
            case,
            category=arrival.category,
            involves_child=arrival.involves_child,
            media_sha256s=arrival.media_sha256s,
        ),
        *arrival.news,
    ]


def _reopen_or_count(latest: Case, arrival: Arrival) -> tuple[Case, str]:
    """A decided item reported again: reopened when the report brings something new, otherwise
    counted against the decided case."""
    reasons = _novelty(latest, arrival)
    if not reasons:
        return latest, Outcome.COUNTED
    latest.status = Case.Status.OPEN
    latest.decided_at = None
    latest.waiting_since = timezone.now()
    _absorb(
        latest,
        category=arrival.category,
        involves_child=arrival.involves_child,
        source=arrival.source,
        reopened=True,
        reroute=True,
    )
    latest.save()
    audit_record(
        verb="case.reopened",
        obj=latest,
        case=latest,
        actor_label=arrival.actor_label,
        before={"status": "decided"},
        after={"status": "open", "queue": latest.queue.slug, "reasons": reasons},
    )
    return latest, Outcome.REOPENED


def _join(current: Case, arrival: Arrival) -> Case:
    """The item's open case takes the arrival in. A reviewer holding it has not seen anything
    new it brings, so they must not decide without it: the case goes back to the queue."""
    if current.assignee_id is not None and (reasons := _novelty(current, arrival)):
        audit_record(
            verb="case.released",
            obj=current,
            case=current,
            actor_label=arrival.actor_label,
            before={"assignee": current.assignee.get_username()},
            after={"assignee": None, "reasons": reasons},
        )
        current.assignee = None
        current.lease_expires_at = None
    _absorb(
        current,
        category=arrival.category,
        involves_child=arrival.involves_child,
        source=arrival.source,
        reroute=arrival.language_is_new,
    )
    return current


def _open(content_item, arrival: Arrival) -> tuple[Case, str]:
    """The item's first case, in the queue its rules pick."""
    route = RouteInput(
        category=arrival.category,
        involves_child=arrival.involves_child,
        sources=frozenset([arrival.source]),
        language=content_item.language,
    )
    try:
        with transaction.atomic():
            case = Case.objects.create(
                content_item=content_item,
                category=arrival.category,
                involves_child=arrival.involves_child,
                sources=[arrival.source],
                queue=queue_route(route),
            )
    except IntegrityError:
        # Another request opened the item's first case between our read and our insert: join it.
        case = Case.objects.select_for_update().get(
            content_item=content_item, status=Case.Status.OPEN
        )
        _absorb(
            case,
            category=arrival.category,
            involves_child=arrival.involves_child,
            source=arrival.source,
        )
        return case, Outcome.JOINED
    audit_record(
        verb="case.opened",
        obj=case,
        case=case,
        actor_label=arrival.actor_label,
        after={"queue": case.queue.slug, "category": case.category},
    )
    return case, Outcome.OPENED


def _absorb(
    case: Case,
    *,
    category: str,
    involves_child: bool,
    source: str,
    reopened: bool = False,
    reroute: bool = False,
) -> None:
    """Take on a more severe category, a child's involvement or a new source, and move the case
    to the queue that now fits it (`reroute`: route it again anyway, e.g. its language became
    known). Moving is safe under a live lease (the holder keeps the case), and needed: a case that
    became child-safety must reach people certified for child safety. A case in a queue reached
    only by people stays there (Queue.holds_cases): senior review, and an open appeal, which must
    reach someone other than its original reviewer; a decided case `reopened` from the appeals
    queue by a new report is routed afresh."""
    changed = reroute
    # Severity here is the fixed scale, not the admin's priority weights: which category a case
    # is must not change with how urgent an admin makes it.
    if SEVERITY[category] > SEVERITY[case.category]:
        case.category, changed = category, True
    if involves_child and not case.involves_child:
        case.involves_child, changed = True, True
    if source not in case.sources:
        case.sources, changed = [*case.sources, source], True
    if changed:
        case_reroute(case, reopened=reopened)


def case_count_report(case: Case, *, fingerprint: str) -> None:
    """Count a new report on a locked case, before its reporter identity is stored."""

    case.reports_count += 1
    known = (
        bool(fingerprint)
        and ReporterIdentity.objects.filter(report__case=case, fingerprint=fingerprint).exists()
    )
    if not known:
        case.reporters_count += 1


def case_count_flag(case: Case, *, score: float) -> None:
    """Count a new flag on a locked case."""
    case.flags_count += 1
    case.max_flag_score = score if case.max_flag_score is None else max(case.max_flag_score, score)


def case_recount(case: Case) -> None:
    """Count a case's reports, reporters and flags from scratch (the intake keeps them up to date
    one at a time; this is for repairs and checks)."""

    case.reports_count = case.reports.count()
    case.flags_count = case.flags.count()
    identified = (
        ReporterIdentity.objects.filter(report__case=case)
        .exclude(fingerprint="")
        .values("fingerprint")
        .distinct()
        .count()
    )
    anonymous = case.reports.filter(
        Q(reporter_identity__isnull=True) | Q(reporter_identity__fingerprint="")
    ).count()
    case.reporters_count = identified + anonymous
    case.max_flag_score = case.flags.aggregate(m=Max("score"))["m"]


def case_priority_inputs(case: Case) -> PriorityInputs:
    return PriorityInputs(
        category=case.category,
        involves_child=case.involves_child,
        reporters_count=case.reporters_count,
        max_flag_score=case.max_flag_score,
        waiting_since=case.waiting_since,
        bank_match_label=case.bank_match_label,
        bank_match_level=case.bank_match_level,
        reporter_reliability=case.reporter_reliability,
        reach=case.content_item.reach,
        sla_minutes=case.queue.sla_minutes,
    )


@in_transaction
def case_refresh_priority(*, case: Case, now=None, weights: Weights | None = None) -> None:
    """Recompute a case's priority from its counters and save it. Call inside a transaction."""
    now = now or timezone.now()
    case.priority, case.priority_breakdown = compute_priority(
        case_priority_inputs(case), now=now, weights=weights or current_weights()
    )
    case.updated_at = now
    case.save()


def cases_refresh_waiting(*, stale_after, limit: int = 1000) -> int:
    """Recompute the priority of open cases not recomputed for `stale_after`, so the time they
    have waited keeps counting and nothing starves at the bottom of a queue. Returns how many."""
    now = timezone.now()
    ids = list(
        Case.objects.filter(status=Case.Status.OPEN, updated_at__lt=now - stale_after)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    cases_refresh(ids, now=now, weights=current_weights())
    return len(ids)


def cases_refresh(ids, *, now=None, weights=None, before=None) -> None:
    """Recompute the priority of each case still open, one locked case per transaction (a long
    batch never holds many rows). `before(case)` updates an input first."""
    for case_id in ids:
        with transaction.atomic(durable=True):
            case = (
                Case.objects.select_for_update(of=("self",))
                .select_related("content_item", "queue")
                .get(pk=case_id)
            )
            if case.status != Case.Status.OPEN:
                continue
            if before is not None:
                before(case)
            case_refresh_priority(case=case, now=now, weights=weights)
