"""Who may use a view. Every console view is decorated with exactly one of these."""

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


def public(view):
    """Marks a view anyone may use, without logging in. Says so out loud for the reader."""
    view.vigil_public = True
    return view
