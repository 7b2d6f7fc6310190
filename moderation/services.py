"""Writes on cases. Every function owns its transaction and its audit events."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import QueueCertification
from moderation.audit import audit_record
from moderation.models import Case, Decision, Queue
from moderation.priority import PriorityInputs, compute_priority
from moderation.rules import decision_requirements
from reports.categories import SEVERITY

SENIOR_REVIEW_QUEUE = "senior-review"


class CaseNotHeld(Exception):
    """The reviewer no longer holds the case (someone else claimed it, or it was decided)."""


def queue_route(*, category: str, involves_child: bool) -> Queue:
    """The first active queue, in rule order, whose rules match."""
    for queue in Queue.objects.filter(is_active=True).order_by("order", "slug"):
        if queue.matches(category=category, involves_child=involves_child):
            return queue
    raise Queue.DoesNotExist(
        "No active queue accepts this case: add a catch-all queue (no categories) in the admin."
    )


def case_attach(*, content_item, category: str, involves_child: bool) -> tuple[Case, bool]:
    """The open case for a content item, created if there is none. Call inside a transaction.

    The case takes the most severe category it has been reported for, and moves queue when that
    changes, unless a reviewer is working on it right now.
    """
    case = (
        Case.objects.select_for_update()
        .filter(content_item=content_item, status=Case.Status.OPEN)
        .first()
    )
    created = False
    if case is None:
        try:
            with transaction.atomic():
                case = Case.objects.create(
                    content_item=content_item,
                    category=category,
                    involves_child=involves_child,
                    queue=queue_route(category=category, involves_child=involves_child),
                )
                created = True
        except IntegrityError:
            # Another request opened the case between our read and our insert: join it.
            case = Case.objects.select_for_update().get(
                content_item=content_item, status=Case.Status.OPEN
            )
    if not created:
        changed = False
        if SEVERITY[category] > SEVERITY[case.category]:
            case.category, changed = category, True
        if involves_child and not case.involves_child:
            case.involves_child, changed = True, True
        if changed and not case.lease_is_live():
            case.queue = queue_route(category=case.category, involves_child=case.involves_child)
    return case, created


def case_refresh_priority(*, case: Case, now=None) -> None:
    """Recount a case's reports and flags and recompute its priority. Call inside a transaction."""
    now = now or timezone.now()
    case.reports_count = case.reports.count()
    case.flags_count = case.flags.count()
    max_score = case.flags.aggregate(m=Max("score"))["m"]
    case.priority, case.priority_breakdown = compute_priority(
        PriorityInputs(
            category=case.category,
            involves_child=case.involves_child,
            reports_count=case.reports_count,
            max_flag_score=max_score,
            waiting_since=case.created_at,
        ),
        now=now,
    )
    case.updated_at = now
    case.save()


def _lease_until(now):
    return now + timedelta(seconds=settings.CASE_LEASE_SECONDS)


def claimable_queue_ids(user, now=None) -> list[int]:
    """Queues the user holds a current certification for."""
    now = now or timezone.now()
    return list(
        QueueCertification.objects.filter(
            user=user, expires_at__gt=now, queue__is_active=True
        ).values_list("queue_id", flat=True)
    )


CLAIM_ORDER = ("-priority", "created_at", "pk")


def _lock_next_claimable(queue_ids: list[int], now) -> Case | None:
    """Lock the best claimable case across the queues, skipping rows others are claiming.

    One ORDER BY across several queues cannot walk the per-queue claim index and sorts every open
    case instead. So: read each queue's head through its index, pick the best, then lock within
    that queue. Under contention the lock may land on that queue's next case rather than another
    queue's head: a momentary, bounded inversion, never a double claim.
    """
    claimable = Case.objects.claimable(now)
    heads = []
    for queue_id in queue_ids:
        head = (
            claimable.filter(queue_id=queue_id)
            .order_by(*CLAIM_ORDER)
            .values_list("priority", "created_at", "pk")
            .first()
        )
        if head is not None:
            heads.append(((-head[0], head[1], head[2]), queue_id))
    for _, queue_id in sorted(heads):
        case = (
            claimable.filter(queue_id=queue_id)
            .order_by(*CLAIM_ORDER)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if case is not None:
            return case
    return None


def case_claim_next(*, user, queue: Queue | None = None, ip: str | None = None) -> Case | None:
    """Give the reviewer the highest-priority claimable case in their queues, under a lease.

    A reviewer who already holds a live case gets that one back rather than a second. On
    PostgreSQL, SKIP LOCKED lets concurrent reviewers pass over rows another is claiming, so two
    reviewers never get the same case and nobody waits on anybody else.
    """
    now = timezone.now()
    held = (
        Case.objects.filter(assignee=user, status=Case.Status.OPEN, lease_expires_at__gt=now)
        .order_by("lease_expires_at")
        .first()
    )
    if held is not None:
        return held

    queue_ids = claimable_queue_ids(user, now)
    if queue is not None:
        queue_ids = [q for q in queue_ids if q == queue.pk]
    if not queue_ids:
        return None

    with transaction.atomic():
        case = _lock_next_claimable(queue_ids, now)
        if case is None:
            return None
        previous = case.assignee.get_username() if case.assignee_id else None
        case.assignee = user
        case.lease_expires_at = _lease_until(now)
        case.updated_at = now
        case.save(update_fields=["assignee", "lease_expires_at", "updated_at"])
        audit_record(
            verb="case.claimed",
            obj=case,
            case=case,
            actor=user,
            before={"assignee": previous},
            after={
                "assignee": user.get_username(),
                "lease_expires_at": case.lease_expires_at.isoformat(),
            },
            ip=ip,
        )
    return case


def case_renew_lease(*, case_id: int, user) -> bool:
    """Extend the reviewer's lease while they have the case open. False if they lost it."""
    now = timezone.now()
    return bool(
        Case.objects.filter(pk=case_id, assignee=user, status=Case.Status.OPEN).update(
            lease_expires_at=_lease_until(now)
        )
    )


def case_release(*, case_id: int, user, ip: str | None = None) -> None:
    """Hand a held case back to its queue (the reviewer skips it)."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        if case.assignee_id != user.pk or case.status != Case.Status.OPEN:
            raise CaseNotHeld("You are not holding this case, so there was nothing to skip.")
        case.assignee = None
        case.lease_expires_at = None
        case.updated_at = timezone.now()
        case.save(update_fields=["assignee", "lease_expires_at", "updated_at"])
        audit_record(
            verb="case.released",
            obj=case,
            case=case,
            actor=user,
            before={"assignee": user.get_username()},
            after={"assignee": None},
            ip=ip,
        )


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
) -> Decision:
    """Record a reviewer's decision on a case they hold.

    Raises CaseNotHeld when the case is no longer the reviewer's (nothing is recorded), and
    ValidationError when a field the decision needs is missing.
    """
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        if case.status != Case.Status.OPEN:
            raise CaseNotHeld("This case has already been decided. Nothing was recorded.")
        if case.assignee_id != user.pk:
            raise CaseNotHeld(
                "This case is no longer yours: your hold on it lapsed and it went back to the "
                "queue. Nothing was recorded."
            )
        required = decision_requirements(category=case.category, action=action)
        errors = {}
        if "intent" in required and not intent:
            errors["intent"] = "Record the sharer's apparent intent for child-safety content."
        if "classification" in required and not classification:
            errors["classification"] = "Choose the industry classification (A1, A2, B1 or B2)."
        if errors:
            raise ValidationError(errors)

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
        before = {"status": case.status, "queue": case.queue.slug, "assignee": user.get_username()}
        case.assignee = None
        case.lease_expires_at = None
        case.updated_at = now
        if action == Decision.Action.SENIOR_REVIEW:
            # Stays open, for a senior reviewer to pick up in their own queue.
            case.queue = Queue.objects.get(slug=SENIOR_REVIEW_QUEUE)
        else:
            case.status = Case.Status.DECIDED
            case.decided_at = now
        case.save()
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
            },
            ip=ip,
        )
    return decision


def media_record_view(*, media, case: Case, user, ip: str | None = None) -> None:
    """Log that a person looked at a media file (feeds "who saw this file" and fileViewedByEsp)."""
    audit_record(verb="media.viewed", obj=media, case=case, actor=user, ip=ip)
