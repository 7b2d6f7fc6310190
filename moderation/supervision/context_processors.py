"""Template context for every console page."""

from django.utils.functional import SimpleLazyObject

from moderation.supervision.inbox import inbox


def console(request):
    # Lazy: only a page that draws the navigation for a signed-in reviewer counts anything.
    return {"inbox": SimpleLazyObject(lambda: inbox(request.user))}
