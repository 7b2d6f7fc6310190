"""The account page: one platform account's cases, the conversations it took part in, its
decisions, actions, matches, escalations and appeals, and its account case, for reviewers and up
(the platform's machine account uses the API only).

Not audited, as the case page is not: what is logged is each file seen (media.viewed), and this
page shows no file, only how many each case holds, so opening it reveals and logs nothing."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import reviewer_required
from lib.text import is_storable
from moderation.review import platform_accounts


@reviewer_required
@never_cache
@require_GET
def platform_account(request, owner_id: str):
    if not is_storable(owner_id):
        raise Http404("No such account")
    overview = platform_accounts.account_overview(request.user, owner_id, request.GET)
    if overview is None:
        # Unknown, or nothing about it this person may see (no case about it, no case of a
        # conversation it took part in): the same answer, so a reviewer does not learn that an
        # account has cases outside their queues.
        raise Http404("No such account")
    for section in platform_accounts.SECTIONS:
        _pager_links(request, getattr(overview, section), f"{section}_page")
    return render(request, "moderation/platform_account.html", {"account": overview})


def _pager_links(request, page, param: str) -> None:
    """The query strings of a section's previous and next pages, keeping the other sections on
    the pages they show."""

    def query(number):
        params = request.GET.copy()
        params[param] = number
        return params.urlencode()

    page.previous_query = query(page.previous_page_number()) if page.has_previous() else ""
    page.next_query = query(page.next_page_number()) if page.has_next() else ""
