"""Submitting an escalation to the CyberTipline through its API, and retracting a report that was
opened but never finished (moderation/escalations/submission.py). Supervisors only; the detail page shows
these buttons in its step (templates/moderation/escalations/_next_step.html) and the attempt log
(_submission.html)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.access import supervisor_required
from lib.http import client_ip
from moderation.escalations import submission
from moderation.escalations.access import get_visible_escalation


@supervisor_required
@require_POST
def escalation_submit_view(request, escalation_id: int):
    escalation = get_visible_escalation(request, escalation_id)
    try:
        submission.escalation_submit(
            escalation_id=escalation.pk, user=request.user, ip=client_ip(request)
        )
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(
            request, "Submitting to the CyberTipline. Each request shows below as it is made."
        )
    return redirect("escalation_detail", escalation.pk)


@supervisor_required
@require_POST
def escalation_retract(request, escalation_id: int):
    escalation = get_visible_escalation(request, escalation_id)
    try:
        submission.escalation_retract_submission(
            escalation_id=escalation.pk, user=request.user, ip=client_ip(request)
        )
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(
            request,
            "The unfinished report was retracted at the CyberTipline. The escalation is ready "
            "to submit again or to submit by hand.",
        )
    return redirect("escalation_detail", escalation.pk)
