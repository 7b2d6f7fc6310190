"""A supervisor moves a held or waiting case: to another reviewer, or back to its queue."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import QueueCertification
from moderation.audit.services import audit_record
from moderation.cases.models import Case
from moderation.cases.services import _lease_until, claimable_queue_ids


class ReassignRefused(Exception):
    """The case cannot go where the supervisor asked; the message says why."""


def case_reassign(*, case_id: int, by, to=None, ip: str | None = None) -> Case:
    """Give an open case to `to` under a fresh lease, or (to=None) back to its queue.

    The new holder must be an active reviewer with a current certification for the case's queue
    (and, for a sensitive queue, not paused from it): the same test claiming applies.
    """
    if not by.has_perm(roles.SUPERVISE):
        raise PermissionDenied("Only a supervisor can reassign a case.")
    now = timezone.now()
    with transaction.atomic(durable=True):
        case = Case.objects.select_for_update().get(pk=case_id)
        if case.status != Case.Status.OPEN:
            raise ReassignRefused(f"Case {case.pk} is already decided: there is nothing to move.")
        if to is not None:
            name = to.get_username()
            if not (to.is_active and to.has_perm(roles.REVIEW)):
                raise ReassignRefused(f"{name} is not an active reviewer. Nothing was changed.")
            if case.queue_id not in claimable_queue_ids(to, now):
                raise ReassignRefused(
                    f"{name} has no current certification for the {case.queue.name} queue (or "
                    "is paused from sensitive queues), so the case cannot go to them. Nothing "
                    "was changed."
                )
        before = {"assignee": case.assignee.get_username() if case.assignee_id else None}
        case.assignee = to
        case.lease_expires_at = _lease_until(now) if to is not None else None
        case.updated_at = now
        case.save(update_fields=["assignee", "lease_expires_at", "updated_at"])
        audit_record(
            verb="case.reassigned",
            obj=case,
            case=case,
            actor=by,
            before=before,
            after={
                "assignee": to.get_username() if to is not None else None,
                "lease_expires_at": case.lease_expires_at.isoformat() if to else None,
            },
            ip=ip,
        )
    return case


def reassign_candidates(case: Case) -> list:
    """Reviewers currently certified for the case's queue, for the supervisor's choice (one
    query). The service checks again, pauses and roles included, when one is picked."""

    return [
        c.user
        for c in QueueCertification.objects.current()
        .filter(queue_id=case.queue_id, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    ]
