"""Who may see a case in the review console and its API (moderation/cases/access.py holds the
rule for staff; platform accounts see only the cases they fed)."""

from accounts import roles
from lib.api import ApiError, require_scope
from moderation.cases.access import get_visible_case, user_may_view_case
from moderation.cases.models import Case
from moderation.review import selectors


def get_reviewable_case(request, case_id: int) -> Case:
    """The case with everything the review page shows; 404 if missing, 403 if not visible."""
    return get_visible_case(request, case_id, load=selectors.case_for_review)


def api_reviewer(request):
    principal = require_scope(request, "read")
    if not principal.user.has_perm(roles.REVIEW):
        raise ApiError(403, "forbidden", "Only reviewers can claim and decide cases.")
    return principal


def api_visible_case(request, case_id: int) -> Case:
    principal = require_scope(request, "read")
    try:
        case = selectors.case_for_review(case_id)
    except Case.DoesNotExist:
        raise ApiError(404, "not_found", f"No case {case_id}.") from None
    # Staff read what their queues allow; platform accounts only the cases they fed.
    if principal.user.has_perm(roles.REVIEW):
        if not user_may_view_case(principal.user, case):
            raise ApiError(403, "forbidden", "This case is in a queue you are not certified for.")
    elif not selectors.case_fed_by(case, principal.user):
        raise ApiError(404, "not_found", f"No case {case_id}.")
    return case
