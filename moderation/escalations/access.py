"""Who may see an escalation: on the pages (404 for anyone it does not concern, so a reviewer does
not learn it exists) and over the API (senior reviewers and supervisors)."""

from django.http import Http404

from accounts import roles
from lib.api import ApiError, require_scope
from moderation.escalations.models import Escalation
from moderation.escalations.selectors import escalation_with_attempts, visible_to


def get_visible_escalation(request, escalation_id: int) -> Escalation:
    """The escalation if this user may see it; 404 otherwise (a reviewer does not learn that an
    escalation they had no part in exists)."""
    escalation = visible_to(request.user).filter(pk=escalation_id).first()
    if escalation is None:
        raise Http404("No such escalation")
    return escalation


def api_escalations_caller(request):
    principal = require_scope(request, "read")
    user = principal.user
    if not user.has_perm(roles.SENIOR_REVIEW):
        raise ApiError(
            403, "forbidden", "Escalations are visible to senior reviewers and supervisors only."
        )
    return user


def get_api_escalation(request, escalation_id: int) -> Escalation:
    """The escalation, for a caller allowed to see escalations; 403/404 JSON otherwise."""
    api_escalations_caller(request)
    escalation = escalation_with_attempts(escalation_id)
    if escalation is None:
        raise ApiError(404, "not_found", f"No escalation {escalation_id}.")
    return escalation
