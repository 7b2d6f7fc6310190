"""Who may use a view, by role. Every console view is decorated with exactly one of these or
`lib.access.public`; each domain's `access.py` adds its object-level checks (may this person see
this case?)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from accounts import roles


def permission_required(perm: str):
    """Anonymous users go to the login page; logged-in users without `perm` get a 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.vigil_access = perm
        return wrapped

    return decorator


reviewer_required = permission_required(roles.REVIEW)
senior_required = permission_required(roles.SENIOR_REVIEW)
supervisor_required = permission_required(roles.SUPERVISE)
