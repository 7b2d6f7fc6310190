"""Who may see a case: the check every domain makes before showing or acting on one."""

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from accounts import roles
from moderation.cases.models import Case
from moderation.cases.services import claimable_queue_ids
from moderation.decisions.models import Decision


def user_may_view_case(user, case: Case) -> bool:
    """Reviewers see cases they hold or that sit in a queue they are certified for."""
    if user.has_perm(roles.SUPERVISE):
        return True
    if case.assignee_id == user.pk:
        return True
    # The reviewer who made the latest decision may look back at it (and a resent form meets a
    # clear "already recorded", not a 403). Decisions come prefetched, newest first.
    latest = next(iter(case.decisions.all()), None)
    if latest is not None and latest.reviewer_id == user.pk:
        return True
    return case.queue_id in claimable_queue_ids(user)


def visible_cases(user) -> QuerySet[Case]:
    """The cases `user_may_view_case` lets `user` open, as one query to filter lists and searches
    by (never a list read and then checked case by case): every case for supervisors; otherwise
    those they hold, those whose latest decision is theirs and those in a queue they may claim
    from."""
    if user.has_perm(roles.SUPERVISE):
        return Case.objects.all()
    latest_reviewer = (
        Decision.objects.filter(case=OuterRef("pk"))
        .order_by("-created_at", "-pk")
        .values("reviewer_id")[:1]
    )
    return Case.objects.alias(latest_reviewer=Subquery(latest_reviewer)).filter(
        Q(assignee=user) | Q(latest_reviewer=user.pk) | Q(queue_id__in=claimable_queue_ids(user))
    )


def _load(case_id: int) -> Case:
    return (
        Case.objects.select_related("queue", "content_item")
        .prefetch_related("decisions")
        .get(pk=case_id)
    )


def get_visible_case(request, case_id: int, *, load=_load) -> Case:
    """The case, or 404 if it does not exist, or 403 if this user may not see it. `load` reads it
    (the review console reads it with everything its page shows)."""
    try:
        case = load(case_id)
    except Case.DoesNotExist:
        raise Http404("No such case") from None
    if not user_may_view_case(request.user, case):
        raise PermissionDenied
    return case
