"""Bank pages for supervisors: each bank's health, and the entries the flood guard quarantined,
to release (their matches act again from now on) or remove."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import supervisor_required
from lib.http import client_ip
from moderation.banks.models import BankEntry
from moderation.banks.services import bank_entry_release, bank_entry_remove
from moderation.supervision.bank_forms import ReleaseForm, RemoveForm
from moderation.supervision.bank_health import (
    DISAGREEMENT_DAYS,
    RECENT_DAYS,
    banks_health,
    quarantined_entries,
)

PAGE_SIZE = 50


@supervisor_required
@never_cache
@require_GET
def bank_health(request):
    return render(
        request,
        "moderation/bank_health.html",
        {
            "rows": banks_health(),
            "recent_days": RECENT_DAYS,
            "disagreement_days": DISAGREEMENT_DAYS,
        },
    )


@supervisor_required
@never_cache
@require_GET
def quarantine_list(request):
    page = Paginator(quarantined_entries(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "moderation/quarantined_entries.html",
        {"page": page, "release_form": ReleaseForm(), "remove_form": RemoveForm()},
    )


def _quarantined(entry_id: int) -> BankEntry:
    entry = BankEntry.objects.select_related("bank").filter(pk=entry_id).first()
    if entry is None:
        raise Http404("No such bank entry")
    return entry


def _form_error(request, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@supervisor_required
@require_POST
def quarantine_release(request, entry_id: int):
    entry = _quarantined(entry_id)
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        _form_error(request, form)
        return redirect("quarantined_entries")
    try:
        bank_entry_release(
            entry_id=entry.pk,
            reason=form.cleaned_data["reason"],
            user=request.user,
            ip=client_ip(request),
        )
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(
            request, f"Released: {entry.bank.name}'s entry {entry.pk} acts on new matches again."
        )
    return redirect("quarantined_entries")


@supervisor_required
@require_POST
def quarantine_remove(request, entry_id: int):
    entry = _quarantined(entry_id)
    form = RemoveForm(request.POST)
    if not form.is_valid():
        _form_error(request, form)
        return redirect("quarantined_entries")
    if entry.quarantined_at is None:
        # Released meanwhile: removing a live entry is the bank admin's work, not this page's.
        messages.error(request, "This entry is no longer quarantined (released meanwhile?).")
        return redirect("quarantined_entries")
    if bank_entry_remove(
        entry=entry, user=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request)
    ):
        messages.success(
            request, f"Removed {entry.bank.name}'s entry {entry.pk}: its matches count no more."
        )
    else:
        messages.info(request, "This entry was already removed.")
    return redirect("quarantined_entries")
