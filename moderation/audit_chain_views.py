"""A supervisor asks for the audit chain to be verified now (the result shows on /audit/)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from lib.access import supervisor_required
from lib.http import client_ip
from moderation.audit_verification import audit_verification_request


@supervisor_required
@require_POST
def audit_verify_request(request):
    audit_verification_request(user=request.user, ip=client_ip(request))
    messages.success(request, "Verification of the audit chain queued; the result shows below.")
    return redirect("audit_log")
