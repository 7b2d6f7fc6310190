"""The exchanges' pages: supervisors see every exchange, its syncs and its feedback, and may ask
for a sync now. Administrators configure exchanges in the admin (credentials stay in the
server's environment)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import supervisor_required
from lib.http import client_ip
from moderation.exchanges import selectors
from moderation.exchanges.models import Exchange
from moderation.exchanges.services import exchange_sync_request


@supervisor_required
@never_cache
@require_GET
def exchanges(request):
    return render(
        request, "moderation/exchanges/list.html", {"exchanges": selectors.exchanges_overview()}
    )


@supervisor_required
@never_cache
@require_GET
def exchange_detail(request, exchange_id: int):
    exchange = selectors.exchange_detail(exchange_id)
    if exchange is None:
        raise Http404("No such exchange")
    # The page polls its syncs while one runs (htmx): the part, not the page.
    polled = request.headers.get("HX-Request") == "true"
    template = "moderation/exchanges/_syncs.html" if polled else "moderation/exchanges/detail.html"
    return render(request, template, {"exchange": exchange})


@supervisor_required
@require_POST
def exchange_sync_now(request, exchange_id: int):
    exchange = Exchange.objects.filter(pk=exchange_id).first()
    if exchange is None:
        raise Http404("No such exchange")
    if not exchange.is_enabled:
        messages.error(request, f"{exchange.name} is switched off: an administrator can enable it.")
    else:
        exchange_sync_request(exchange=exchange, user=request.user, ip=client_ip(request))
        messages.success(request, f"A sync of {exchange.name} is under way.")
    return redirect("exchange_detail", exchange_id=exchange.pk)
