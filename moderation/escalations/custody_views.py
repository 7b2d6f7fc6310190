"""Chain of custody on the escalation page: packet download, manual submission, legal holds.

Supervisors only. The download streams the stored zip (never read into memory) and is audited;
the forms post here and come back to the escalation page (POST-redirect-GET), or show their
errors on a small page of their own.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import supervisor_required
from lib.forms import add_service_errors
from lib.http import client_ip
from moderation.escalations import custody
from moderation.escalations import services as escalations
from moderation.escalations.models import Escalation

# The largest report id the database column holds (PositiveBigIntegerField).
MAX_REPORT_ID = 2**63 - 1


class MarkSubmittedForm(forms.Form):
    report_id = forms.CharField(
        label="CyberTipline report id",
        max_length=19,
        help_text="The number the authority gave you when you submitted the packet.",
    )

    def clean_report_id(self) -> int:
        value = self.cleaned_data["report_id"].strip()
        # isdecimal() alone admits non-ASCII digits.
        if not (value.isascii() and value.isdecimal()):
            raise ValidationError("Enter the report id as a whole number, e.g. 123456789.")
        number = int(value)
        if not 0 < number <= MAX_REPORT_ID:
            raise ValidationError("A report id is a positive number.")
        return number


class LegalHoldForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty to hold the evidence until someone lifts the hold.",
    )

    def clean_until(self):
        until = self.cleaned_data["until"]
        if until is not None and until <= timezone.localdate():
            raise ValidationError("A hold must end after today.")
        return until


class LiftHoldForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


def escalation_url(escalation_id: int) -> str:
    return reverse("escalation_detail", args=[escalation_id])


def _post_form(request, escalation, form, call, *, done: str, title: str, url: str, button: str):
    """Run `call(cleaned_data)` for a valid form and go back to the escalation page with `done`;
    otherwise show the form's (or the service's) errors on a small page of their own."""
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, done.format(**form.cleaned_data))
            return redirect(escalation_url(escalation.pk))
    return render(
        request,
        "moderation/escalations/custody_form.html",
        {
            "escalation": escalation,
            "form": form,
            "title": title,
            "action": reverse(url, args=[escalation.pk]),
            "button": button,
            "back": escalation_url(escalation.pk),
        },
        status=400,
    )


@supervisor_required
@never_cache
@require_GET
def escalation_packet(request, escalation_id: int):
    """The packet zip, streamed from private storage; each download is audited."""
    try:
        escalation, handle = custody.escalation_packet_download(
            escalation_id=escalation_id, user=request.user, ip=client_ip(request)
        )
    except Escalation.DoesNotExist:
        raise Http404("No such escalation") from None
    except custody.PacketUnavailable as e:
        messages.error(request, e.detail)
        return redirect(escalation_url(escalation_id))
    return custody.packet_response(escalation, handle)


@supervisor_required
@require_POST
def escalation_mark_submitted_view(request, escalation_id: int):
    """A supervisor submitted the downloaded packet by hand and records the report id."""
    escalation = get_object_or_404(Escalation, pk=escalation_id)
    return _post_form(
        request,
        escalation,
        MarkSubmittedForm(request.POST),
        lambda data: escalations.escalation_mark_submitted(
            escalation_id=escalation.pk,
            report_id=data["report_id"],
            via=Escalation.SubmittedVia.MANUAL,
            user=request.user,
        ),
        done="Marked submitted as report {report_id}. The evidence is now preserved.",
        title="Mark submitted",
        url="escalation_mark_submitted",
        button="Mark submitted",
    )


@supervisor_required
@require_POST
def escalation_mark_acknowledged_view(request, escalation_id: int):
    escalation = get_object_or_404(Escalation, pk=escalation_id)
    try:
        escalations.escalation_mark_acknowledged(escalation_id=escalation.pk, user=request.user)
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, "Marked acknowledged by the authority.")
    return redirect(escalation_url(escalation.pk))


@supervisor_required
@require_POST
def escalation_legal_hold(request, escalation_id: int):
    """Set or extend a legal hold (a new date and reason replace the old ones)."""
    escalation = get_object_or_404(Escalation, pk=escalation_id)
    return _post_form(
        request,
        escalation,
        LegalHoldForm(request.POST),
        lambda data: custody.escalation_set_legal_hold(
            escalation_id=escalation.pk,
            user=request.user,
            reason=data["reason"],
            until=data["until"],
        ),
        done="Legal hold recorded.",
        title="Legal hold",
        url="escalation_legal_hold",
        button="Hold the evidence",
    )


@supervisor_required
@require_POST
def escalation_lift_hold(request, escalation_id: int):
    escalation = get_object_or_404(Escalation, pk=escalation_id)
    return _post_form(
        request,
        escalation,
        LiftHoldForm(request.POST),
        lambda data: custody.escalation_lift_legal_hold(
            escalation_id=escalation.pk, user=request.user, reason=data["reason"]
        ),
        done="Legal hold lifted.",
        title="Lift the legal hold",
        url="escalation_lift_hold",
        button="Lift the hold",
    )
