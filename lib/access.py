"""A view anyone may use. Role checks are in accounts/access.py; every console view states who may
use it with exactly one decorator (tests/test_permissions.py)."""


def public(view):
    """Marks a view anyone may use, without logging in. Says so out loud for the reader."""
    view.vigil_public = True
    return view
