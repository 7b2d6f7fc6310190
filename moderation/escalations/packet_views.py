"""The packet's actions on the escalation page (the page itself is moderation/escalations/views.py)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accounts.access import supervisor_required
from lib.http import client_ip
from moderation.escalations.models import Escalation
from moderation.escalations.packet import escalation_retry_assembly


@supervisor_required
@require_POST
def escalation_retry_assembly_view(request, escalation_id: int):
    """A supervisor assembles a packet again once the cause of its failure is fixed."""
    get_object_or_404(Escalation, pk=escalation_id)  # supervisors see every escalation
    try:
        escalation_retry_assembly(
            escalation_id=escalation_id, user=request.user, ip=client_ip(request)
        )
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, "The packet is being assembled again.")
    return redirect("escalation_detail", escalation_id=escalation_id)
