"""The audit browser for supervisors: filtered, keyset-paged, with timelines and CSV export; and a supervisor asking for the chain to be verified now."""

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import supervisor_required
from accounts.models import User
from lib.http import client_ip, csv_response
from moderation.audit.verification import audit_verification_request
from moderation.cases.models import Case
from moderation.supervision import audit_browser as browser


@supervisor_required
@require_POST
def audit_verify_request(request):
    audit_verification_request(user=request.user, ip=client_ip(request))
    messages.success(request, "Verification of the audit chain queued; the result shows below.")
    return redirect("audit_log")


def _querystring(data: QueryDict, *, drop=("before", "after", "page")) -> str:
    data = data.copy()
    for name in drop:
        data.pop(name, None)
    return data.urlencode()


def _browse(request, *, preset: dict | None = None, title: str = "Audit log", case=None):
    data = request.GET.copy()
    for name, value in (preset or {}).items():
        data[name] = value
    form = browser.AuditFilterForm(data)
    page, status = None, 200
    if form.is_valid():
        page = browser.audit_page(
            browser.audit_events(form),
            before=form.cleaned_data["before"],
            after=form.cleaned_data["after"],
        )
        for event in page.events:
            event.changes = browser.change_rows(event.before, event.after)
            event.summary = browser.change_summary(event.changes)
    else:
        status = 400
    return render(
        request,
        "moderation/audit_log.html",
        {
            "form": form,
            "page": page,
            "title": title,
            "timeline": preset is not None,
            "timeline_case": case,
            "verbs": browser.audit_verbs(),
            "object_types": browser.logged_object_types(data.get("object_type", "")),
            "actors": browser.actor_choices(),
            # Paging links stay on this URL (a timeline keeps its subject); the export and the
            # filter form carry the whole filter to the general browser.
            "paging_qs": _querystring(request.GET),
            "filter_qs": _querystring(data),
        },
        status=status,
    )


@supervisor_required
@never_cache
@require_GET
def audit_log(request):
    return _browse(request)


@supervisor_required
@never_cache
@require_GET
def audit_case_timeline(request, case_id: int):
    case = get_object_or_404(Case, pk=case_id)
    return _browse(
        request, preset={"case": str(case.pk)}, title=f"Case {case.pk}: timeline", case=case
    )


@supervisor_required
@never_cache
@require_GET
def audit_actor_timeline(request, user_id: int):
    user = get_object_or_404(User, pk=user_id)
    name = user.get_username()
    return _browse(request, preset={"actor": name}, title=f"{name}: timeline")


@supervisor_required
@never_cache
@require_GET
def audit_export(request):
    """The events the filter matches, as CSV, streamed in chunks. The export is itself audited."""
    form = browser.AuditFilterForm(request.GET)
    if not form.is_valid():
        return _browse(request)
    record = browser.audit_export_record(
        user=request.user, filters=form.filters(), ip=client_ip(request)
    )
    rows = browser.csv_rows(browser.audit_events(form), upto=record.pk)
    return csv_response(rows, filename=f"audit-{record.pk}.csv")
