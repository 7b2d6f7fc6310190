"""Deliveries to the platform: the supervisor's log and re-send, and reversing an action."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import reviewer_required, supervisor_required
from lib.http import client_ip
from lib.text import is_storable
from moderation.cases.access import get_visible_case
from moderation.enforcement import delivery
from moderation.enforcement import selectors as delivery_selectors
from moderation.enforcement.models import EnforcementAction, WebhookDelivery
from moderation.enforcement.payload import build_payload

PAGE_SIZE = 50


@supervisor_required
@never_cache
@require_GET
def deliveries(request):
    status = request.GET.get("status", delivery_selectors.ATTENTION)
    if status not in dict(delivery_selectors.FILTERS):
        status = delivery_selectors.ATTENTION
    page = Paginator(delivery_selectors.deliveries_list(status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "moderation/deliveries.html",
        {
            "page": page,
            "status": status,
            "filters": delivery_selectors.FILTERS,
            "counts": delivery_selectors.delivery_counts(),
            "configured": delivery.delivery_configured(),
            "endpoint": settings.PLATFORM_WEBHOOK_URL,
        },
    )


@supervisor_required
@never_cache
@require_GET
def delivery_detail(request, delivery_id: int):
    try:
        item, attempts = delivery_selectors.delivery_with_log(delivery_id)
    except WebhookDelivery.DoesNotExist:
        raise Http404("No such delivery") from None
    return render(
        request,
        "moderation/delivery_detail.html",
        {
            "delivery": item,
            "attempts": attempts,
            "attempts_shown": delivery_selectors.ATTEMPTS_SHOWN,
            # Exactly what the platform receives (built afresh, as each attempt does).
            "payload": json.dumps(build_payload(item), indent=2, sort_keys=True),
            "configured": delivery.delivery_configured(),
        },
    )


@supervisor_required
@require_POST
def delivery_resend_view(request, delivery_id: int):
    if not WebhookDelivery.objects.filter(pk=delivery_id).exists():
        raise Http404("No such delivery")
    try:
        delivery.delivery_resend(delivery_id=delivery_id, user=request.user, ip=client_ip(request))
    except delivery.DeliveryError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Queued to be sent again.")
    return redirect("delivery_detail", delivery_id=delivery_id)


@reviewer_required
@require_POST
def action_reverse_view(request, case_id: int, action_id: int):
    """Anyone who may see the case may reverse its actions (the service checks it too)."""
    case = get_visible_case(request, case_id)
    if not EnforcementAction.objects.filter(pk=action_id, case=case).exists():
        raise Http404("No such action on this case")
    reason = request.POST.get("reason", "")
    if not is_storable(reason) or len(reason) > 500:
        messages.error(request, "The reason must be plain text of at most 500 characters.")
        return redirect("case_detail", case_id=case.pk)
    try:
        delivery.action_reverse(
            action_id=action_id, user=request.user, reason=reason, ip=client_ip(request)
        )
    except delivery.DeliveryError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Action reversed; the platform is told to undo it.")
    return redirect("case_detail", case_id=case.pk)
