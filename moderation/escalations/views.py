"""Escalation pages: the list, one escalation with its live assembly progress, and the steps up to
approval (preparing the report, asking for approval, approving or sending back, withdrawing).

Downloading, submission and preservation have their own modules (custody_views, submission_views,
packet_views); the detail page includes their parts.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.access import reviewer_required, senior_required, supervisor_required
from lib.forms import add_service_errors
from moderation.escalations import selectors
from moderation.escalations import services as escalations
from moderation.escalations.access import get_visible_escalation
from moderation.escalations.forms import EscalationDetailsForm, NoteForm
from moderation.escalations.models import REPORT_ANNOTATIONS, Escalation

PAGE_SIZE = 50
S = Escalation.Status


@reviewer_required
@never_cache
@require_GET
def escalation_list(request):
    # Embedded mode: assemblies stuck in "assembling" were queued again just before this view
    # (moderation/periodic/embedded.py).
    status = request.GET.get("status", selectors.ATTENTION)
    if status not in dict(selectors.FILTERS):
        status = selectors.ATTENTION
    # ?mine=1: only the escalations this person opened (the inbox's "your drafts").
    mine = request.GET.get("mine") == "1"
    page = Paginator(
        selectors.escalations_list(request.user, status, mine=mine), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "moderation/escalations/list.html",
        {
            "page": page,
            "status": status,
            "mine": mine,
            "filters": selectors.FILTERS,
            "counts": selectors.escalation_counts(request.user),
            # The supervisors' overview: failed first, with authority, age and preservation.
            "overview": selectors.failed_first(request.user),
            "now": timezone.now(),
        },
    )


def _render_detail(request, escalation, *, details_form=None, note_form=None, status=200):
    user = request.user
    editable = escalation.status in escalations.EDITABLE
    # Who took part decides what this user may do here: asked once for the whole page.
    involved = escalations.escalating_reviewer_ids(escalation)
    may_prepare = editable and escalations.can_prepare(user, escalation, involved)
    may_approve_any = escalations.can_approve(user, escalation, involved)
    if details_form is None and may_prepare:
        details_form = EscalationDetailsForm(
            initial={
                "incident_type": escalation.incident_type,
                "incident_summary": escalation.incident_summary,
                "annotations": escalation.annotations,
                "urgent": escalation.urgent,
                "urgent_reason": escalation.urgent_reason,
            }
        )
    awaiting = escalation.status == S.AWAITING_APPROVAL
    return render(
        request,
        "moderation/escalations/detail.html",
        {
            "escalation": escalation,
            "cases": selectors.escalation_cases(escalation),
            "overturned": selectors.overturned_case_ids(escalation),
            "cleared": selectors.cleared_case_ids(escalation),
            "events": selectors.escalation_audit(escalation),
            # The packet's files, for supervisors (who saw each one; what a video is).
            "packet_files": selectors.packet_files(escalation)
            if escalation.packet_sha256 and user.has_perm(roles.SUPERVISE)
            else [],
            "annotation_labels": [REPORT_ANNOTATIONS[a] for a in escalation.annotations],
            "details_form": details_form if may_prepare else None,
            "may_request": may_prepare and escalation.status == S.DRAFT,
            "may_approve": awaiting and may_approve_any,
            # A failed assembly (e.g. the report does not validate) goes back to be corrected.
            "may_restart": escalation.failed_in_assembly and may_approve_any,
            "approver_is_involved": awaiting
            and user.has_perm(roles.SENIOR_REVIEW)
            and not may_approve_any,
            "may_withdraw": escalation.status in escalations.WITHDRAWABLE
            and user.has_perm(roles.SUPERVISE),
            "note_form": note_form or NoteForm(),
        },
        status=status,
    )


@reviewer_required
@never_cache
@require_GET
def escalation_detail(request, escalation_id: int):
    return _render_detail(request, get_visible_escalation(request, escalation_id))


@reviewer_required
@never_cache
@require_GET
def escalation_progress(request, escalation_id: int):
    """Polled by the detail page (htmx) while the packet is assembled. When assembly ends the
    whole page reloads, so the packet (or the reason it failed) shows."""
    escalation = get_visible_escalation(request, escalation_id)
    if escalation.status != S.ASSEMBLING:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "moderation/escalations/_progress.html", {"escalation": escalation})


def _done(request, escalation_id: int, message: str):
    messages.success(request, message)
    return redirect("escalation_detail", escalation_id)


@reviewer_required
@require_POST
def escalation_details(request, escalation_id: int):
    escalation = get_visible_escalation(request, escalation_id)
    if not escalations.can_prepare(request.user, escalation):
        raise Http404("No such escalation")
    form = EscalationDetailsForm(request.POST)
    if form.is_valid():
        try:
            escalations.escalation_update_details(
                escalation_id=escalation.pk, user=request.user, **form.cleaned_data
            )
        except escalations.EscalationStateError as e:
            # No longer in draft (sent for approval from another tab): the form is not shown.
            messages.error(request, " ".join(e.messages))
            return redirect("escalation_detail", escalation.pk)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            if "request_approval" in request.POST:
                return escalation_request_approval_view(request, escalation_id)
            return _done(request, escalation.pk, "Saved.")
    return _render_detail(request, escalation, details_form=form, status=400)


@reviewer_required
@require_POST
def escalation_request_approval_view(request, escalation_id: int):
    escalation = get_visible_escalation(request, escalation_id)
    if not escalations.can_prepare(request.user, escalation):
        raise Http404("No such escalation")
    try:
        escalations.escalation_request_approval(escalation_id=escalation.pk, user=request.user)
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("escalation_detail", escalation.pk)
    return _done(
        request,
        escalation.pk,
        "Sent for approval. Another senior reviewer or supervisor must approve it.",
    )


@senior_required
@require_POST
def escalation_approve_view(request, escalation_id: int):
    escalation = get_visible_escalation(request, escalation_id)
    try:
        escalations.escalation_approve(escalation_id=escalation.pk, user=request.user)
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("escalation_detail", escalation.pk)
    return _done(request, escalation.pk, "Approved. The packet is being assembled.")


def _with_note(request, escalation_id: int, service, message: str):
    escalation = get_visible_escalation(request, escalation_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            service(escalation_id=escalation.pk, user=request.user, note=form.cleaned_data["note"])
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
            return redirect("escalation_detail", escalation.pk)
        return _done(request, escalation.pk, message)
    return _render_detail(request, escalation, note_form=form, status=400)


@senior_required
@require_POST
def escalation_return_view(request, escalation_id: int):
    return _with_note(
        request, escalation_id, escalations.escalation_return, "Sent back to draft with your note."
    )


@supervisor_required
@require_POST
def escalation_withdraw_view(request, escalation_id: int):
    return _with_note(
        request, escalation_id, escalations.escalation_withdraw, "Escalation withdrawn."
    )
