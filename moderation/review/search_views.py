"""The console's search page: reviewers and up (the platform's machine account never), each
search audited, results as far as the person may see (moderation/review/search.py)."""

from django import forms
from django.conf import settings
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import reviewer_required
from lib.http import client_ip
from lib.ratelimit import hit
from lib.text import is_storable
from moderation.review.search import (
    KIND_LABELS,
    MAX_QUERY_LENGTH,
    PER_GROUP,
    parse_query,
    search,
)
from moderation.review.search_services import search_record


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=MAX_QUERY_LENGTH,
        error_messages={
            "max_length": f"That is longer than anything Vigil keeps ({MAX_QUERY_LENGTH} characters)."
        },
    )

    def clean_q(self) -> str:
        q = self.cleaned_data["q"]
        if not is_storable(q):
            raise forms.ValidationError("That text has characters Vigil cannot search for.")
        return q


@reviewer_required
@never_cache
@require_GET
def search_page(request):
    form = SearchForm(request.GET)
    results = None
    status = 200
    if form.is_valid() and form.cleaned_data["q"]:
        text = form.cleaned_data["q"]
        # Distances to bank entries answer "how close": hash searches share the API lookups'
        # limit per person, so many of them cannot map a bank out.
        wait = parse_query(text).hashes and hit(
            f"hash-lookup:{request.user.pk}", limit=settings.HASH_LOOKUPS_PER_MINUTE
        )
        if wait:
            form.add_error("q", f"Too many hash searches this minute; try again in {wait} s.")
            status = 429
        else:
            results = search(request.user, text)
            search_record(user=request.user, results=results, ip=client_ip(request))
    return render(
        request,
        "moderation/search.html",
        {
            "form": form,
            "results": results,
            # The navigation's search box shows what was searched for.
            "search_query": request.GET.get("q", "")[:MAX_QUERY_LENGTH],
            "kind_labels": [KIND_LABELS[k] for k in results.query.kinds] if results else [],
            "per_group": PER_GROUP,
        },
        status=status,
    )
