"""Who may see a case: the check every domain makes before showing or acting on one."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts import roles
from moderation.cases.models import Case
from moderation.cases.services import claimable_queue_ids


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
