"""Claiming cases: who may take which case, in what order, under a lease; skipping and handing
back; a supervisor pausing a reviewer's access to sensitive queues. Every function owns its transaction and its audit events."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts import roles
from accounts.models import SensitivePause, User
from moderation.audit.services import audit_record
from moderation.cases import claim_sql
from moderation.cases.claim_sql import Claim
from moderation.cases.eligibility import eligible_queue_ids
from moderation.cases.models import Case, CaseSkip, Queue
from moderation.decisions.models import Appeal

# A skipped case is not offered to the same reviewer again for this long.
SKIP_MEMORY = timedelta(minutes=30)


_NOT_CERTIFIED = (
    "You are no longer certified to work the {queue} queue (your certification expired or was "
    "withdrawn, or your access was paused), so the case went back to the queue; a supervisor "
    "can renew it."
)


class CaseNotHeld(Exception):
    """The reviewer no longer holds the case (someone else claimed it, or it was decided)."""


class OwnDecisionAppealed(CaseNotHeld):
    """The case is an appeal of a decision this reviewer took part in: someone else decides it."""


def _lease_until(now):
    return now + timedelta(seconds=settings.CASE_LEASE_SECONDS)


def claimable_queue_ids(user, now=None) -> list[int]:
    """Queues the user holds a current certification for (senior-only ones need the senior
    reviewer's permission as well; sensitive ones no wellness pause). Read once per request
    (moderation/cases/eligibility.py)."""
    return eligible_queue_ids(user, now or timezone.now())


CLAIM_ORDER = ("-priority", "waiting_since", "pk")


def queue_serving_key(*, priority: int, waiting_since, pk: int, sla_minutes: int, now) -> tuple:
    """Which queue "Review next" serves first, compared on each queue's head case (the rule the
    dashboard states): a head past its queue's SLA comes before any head within its SLA, the one
    furthest past relative to its SLA (waited ÷ SLA) first, so a one-hour queue two hours late
    beats a one-day queue three hours late; otherwise the higher priority, then the longer wait.
    Within a queue the order is CLAIM_ORDER, and priority already counts time past the SLA."""
    waited = (now - waiting_since).total_seconds() / 60
    overdue = bool(sla_minutes) and waited > sla_minutes
    share = waited / sla_minutes if overdue else 0.0
    return (not overdue, -share, -priority, waiting_since, pk)


def _lock_next_claimable(queue_ids: list[int], now, user) -> Case | None:
    """Lock the best claimable case across the queues, skipping rows others are claiming.

    One ORDER BY across several queues cannot walk the per-queue claim index and sorts every open
    case instead. So: read each queue's head through its index, pick the best, then lock within
    that queue. Under contention the lock may land on that queue's next case rather than another
    queue's head: a momentary, bounded inversion, never a double claim.
    """
    claimable = (
        Case.objects.claimable(now)
        .exclude(
            Exists(
                CaseSkip.objects.filter(
                    case=OuterRef("pk"), user=user, skipped_at__gt=now - SKIP_MEMORY
                )
            )
        )
        # An appeal never goes to a reviewer behind the decision it contests.
        .exclude(Exists(appeals_involving(user)))
    )
    # Every queue's head in one query (one index probe per queue), then their sort keys.
    head_ids = (
        Queue.objects.filter(pk__in=queue_ids)
        .annotate(
            head=Subquery(
                claimable.filter(queue_id=OuterRef("pk")).order_by(*CLAIM_ORDER).values("pk")[:1]
            )
        )
        .exclude(head=None)
        .values_list("head", flat=True)
    )
    heads = [
        (
            queue_serving_key(
                priority=priority, waiting_since=since, pk=pk, sla_minutes=sla, now=now
            ),
            queue_id,
        )
        for priority, since, pk, queue_id, sla in Case.objects.filter(
            pk__in=list(head_ids)
        ).values_list("priority", "waiting_since", "pk", "queue_id", "queue__sla_minutes")
    ]
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


def _claim_next_orm(*, user, queue: Queue | None, now) -> Claim | None:
    """The claim through the ORM (SQLite): the case already held, or the next one assigned."""
    held = (
        Case.objects.filter(assignee=user, status=Case.Status.OPEN, lease_expires_at__gt=now)
        .order_by("lease_expires_at")
        .first()
    )
    if held is not None:
        return Claim(held, newly_claimed=False, previous_assignee=None)
    queue_ids = claimable_queue_ids(user, now)
    if queue is not None:
        queue_ids = [q for q in queue_ids if q == queue.pk]
    if not queue_ids:
        return None
    case = _lock_next_claimable(queue_ids, now, user)
    if case is None:
        return None
    previous = case.assignee.get_username() if case.assignee_id else None
    case.assignee = user
    case.lease_expires_at = _lease_until(now)
    case.updated_at = now
    case.save(update_fields=["assignee", "lease_expires_at", "updated_at"])
    return Claim(case, newly_claimed=True, previous_assignee=previous)


def case_claim_next(*, user, queue: Queue | None = None, ip: str | None = None) -> Case | None:
    """Give the reviewer the highest-priority claimable case in their queues, under a lease.

    A reviewer who already holds a live case gets that one back rather than a second. On
    PostgreSQL, SKIP LOCKED lets concurrent reviewers pass over rows another is claiming, so two
    reviewers never get the same case and nobody waits on anybody else; finding, locking and
    assigning the case is one prepared statement there (moderation/cases/claim_sql.py).
    """
    now = timezone.now()
    postgresql = connection.vendor == "postgresql"
    # Read before the transaction (Django keeps a user's permissions on the user object).
    senior = postgresql and user.has_perm(roles.SENIOR_REVIEW)
    with transaction.atomic(durable=True):
        # One claim at a time per reviewer: two quick clicks must not hand out two cases. Its own
        # statement: the held-case check that follows must read after this lock is granted.
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        if postgresql:
            claim = claim_sql.claim_next(
                user=user,
                senior=senior,
                queue_id=queue.pk if queue is not None else None,
                now=now,
                skip_since=now - SKIP_MEMORY,
                lease_until=_lease_until(now),
            )
        else:
            claim = _claim_next_orm(user=user, queue=queue, now=now)
        if claim is None:
            return None
        case = claim.case
        if claim.newly_claimed:
            audit_record(
                verb="case.claimed",
                obj=case,
                case=case,
                actor=user,
                before={"assignee": claim.previous_assignee},
                after={
                    "assignee": user.get_username(),
                    "lease_expires_at": case.lease_expires_at.isoformat(),
                },
                ip=ip,
            )
    return case


def _hand_back(case: Case, *, holder, now, actor=None, reasons=None, ip: str | None = None):
    """Free a locked case its holder no longer works on, back to its queue, audited."""
    case.assignee, case.lease_expires_at, case.updated_at = None, None, now
    case.save(update_fields=["assignee", "lease_expires_at", "updated_at"])
    audit_record(
        verb="case.released",
        obj=case,
        case=case,
        actor=actor,
        before={"assignee": holder.get_username()},
        after={"assignee": None, **({"reasons": reasons} if reasons else {})},
        ip=ip,
    )


def case_renew_lease(*, case_id: int, user) -> bool:
    """Extend the reviewer's lease while they have the case open. False if they lost it.

    A reviewer who may no longer work the case's queue (their certification expired or was
    withdrawn, or a supervisor paused their access) loses the case at once: it goes back to the
    queue for someone who may, and CaseNotHeld says why.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        case = (
            Case.objects.select_for_update()
            .select_related("queue")
            .filter(pk=case_id, assignee=user, status=Case.Status.OPEN)
            .first()
        )
        if case is None:
            return False
        if case.queue_id not in claimable_queue_ids(user, now):
            _hand_back(
                case, holder=user, now=now, reasons=["reviewer no longer certified for the queue"]
            )
            released = True
        else:
            released = False
            case.lease_expires_at = _lease_until(now)
            case.save(update_fields=["lease_expires_at"])
    if released:
        # Raised after the commit: the case is back in its queue whatever the caller does.
        raise CaseNotHeld(_NOT_CERTIFIED.format(queue=case.queue.name))
    return True


def case_release(*, case_id: int, user, ip: str | None = None) -> None:
    """Hand a held case back to its queue (the reviewer skips it)."""
    with transaction.atomic(durable=True):
        case = Case.objects.select_for_update().get(pk=case_id)
        if case.assignee_id != user.pk or case.status != Case.Status.OPEN:
            raise CaseNotHeld("You are not holding this case, so there was nothing to skip.")
        _hand_back(case, holder=user, now=timezone.now(), actor=user, ip=ip)
        CaseSkip.objects.update_or_create(
            case=case, user=user, defaults={"skipped_at": case.updated_at}
        )


def lock_held_case(*, case_id: int, user) -> Case:
    """The open case the user holds under a live lease and a current certification, locked;
    CaseNotHeld otherwise."""
    now = timezone.now()
    case = Case.objects.select_for_update().get(pk=case_id)
    if (
        case.assignee_id != user.pk
        and case.decisions.filter(reviewer=user, created_at__gte=case.waiting_since).exists()
    ):
        # The same form sent twice (a double click, a resent POST): the first one counted.
        raise CaseNotHeld("You already recorded a decision on this case; it was counted once.")
    if case.status != Case.Status.OPEN:
        raise CaseNotHeld("This case has already been decided. Nothing was recorded.")
    if case.assignee_id != user.pk:
        raise CaseNotHeld(
            "This case is no longer yours: your hold on it lapsed and it went back to the "
            "queue. Nothing was recorded."
        )
    if not case.lease_is_live(now):
        # Nobody has taken it yet, but it was free to take: the hold is gone either way.
        raise CaseNotHeld(
            "Your hold on this case ran out while you were away, so it went back to the queue. "
            "Nothing was recorded: take it again with Review next."
        )
    if case.queue_id not in claimable_queue_ids(user, now):
        raise CaseNotHeld(_NOT_CERTIFIED.format(queue=case.queue.name) + " Nothing was recorded.")
    if Case.objects.filter(pk=case.pk).filter(Exists(appeals_involving(user))).exists():
        raise OwnDecisionAppealed(
            "This case is an appeal against a decision you took part in, so another reviewer "
            "must decide it. Nothing was recorded; skip it to hand it back."
        )
    return case


def appeals_involving(user) -> QuerySet:
    """For a query on cases (via OuterRef): the case's open appeal, if `user` took part in the
    decision it contests: any decision on the case up to and including the contested one (the
    reviewer who sent it to senior review as well as the senior reviewer who decided it)."""
    return Appeal.objects.filter(
        status=Appeal.Status.OPEN,
        case=OuterRef("pk"),
        case__decisions__reviewer=user,
        case__decisions__created_at__lte=F("decision__created_at"),
    )


def sensitive_pause(
    *, user, until: datetime, reason: str, by, ip: str | None = None
) -> SensitivePause:
    """Keep `user` away from sensitive queues until `until`. Cases they hold in those queues go
    back to the queue, so the pause takes effect at once."""
    if not by.has_perm(roles.SUPERVISE):
        raise PermissionDenied("Only a supervisor can pause a reviewer's access.")
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": "The pause must end in the future."})
    with transaction.atomic(durable=True):
        pause = SensitivePause.objects.create(
            user=user, until=until, reason=reason, paused_by=by, created_at=now
        )
        audit_record(
            verb="wellness.paused",
            obj=pause,
            actor=by,
            after={"reviewer": user.get_username(), "until": until.isoformat(), "reason": reason},
            ip=ip,
        )
        held = Case.objects.select_for_update().filter(
            assignee=user, status=Case.Status.OPEN, queue__sensitive=True
        )
        for case in held:
            _hand_back(
                case,
                holder=user,
                now=now,
                actor=by,
                reasons=["reviewer paused from sensitive queues"],
                ip=ip,
            )
    return pause


def sensitive_pause_lift(*, user, by, ip: str | None = None) -> int:
    """End the reviewer's current pauses now. Returns how many were lifted."""
    if not by.has_perm(roles.SUPERVISE):
        raise PermissionDenied("Only a supervisor can lift a pause.")
    now = timezone.now()
    with transaction.atomic(durable=True):
        pauses = list(
            SensitivePause.objects.select_for_update().filter(
                SensitivePause.active_q(now), user=user
            )
        )
        for pause in pauses:
            pause.lifted_at, pause.lifted_by = now, by
            pause.save(update_fields=["lifted_at", "lifted_by"])
            audit_record(
                verb="wellness.resumed",
                obj=pause,
                actor=by,
                before={"until": pause.until.isoformat()},
                after={"reviewer": user.get_username(), "lifted_at": now.isoformat()},
                ip=ip,
            )
    return len(pauses)
