"""Who may read statements of reasons: the platform and supervisors."""

from accounts import roles
from lib.api import ApiError, require_scope


def api_statements_caller(request):
    """The platform (which submits statements to the EU database) and supervisors. Reviewers'
    tokens carry `read` too, but a whole period's decisions is not theirs to pull."""
    principal = require_scope(request, "read")
    user = principal.user
    if not (user.has_perm(roles.SUPERVISE) or user.has_perm(roles.SUBMIT_REPORTS)):
        raise ApiError(
            403,
            "forbidden",
            "Statements of reasons are for the platform's account and supervisors.",
        )
    return principal
