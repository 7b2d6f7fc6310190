import re

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from lib.access import public
from lib.http import client_ip, rate_limit_key
from lib.ratelimit import hit
from reports.categories import Category
from reports.content import ContentFacts
from reports.forms import ReportForm, SelfReportForm, StatusForm
from reports.models import Report
from reports.services import report_status, report_submit

REFERENCE_SHAPE = re.compile(r"[Vv][Rr]-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}")
# Lookups by reference are cheap to make and could be used to probe for valid references.
STATUS_LOOKUPS_PER_MINUTE = 30


def _too_many(request, wait: int):
    response = render(request, "reports/rate_limited.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


@public
@require_GET
def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return redirect("report")


def _public_report(request, form, template: str, context: dict, **fixed):
    """The public forms' shared handling: rate limit, validate, submit, POST-redirect-GET.
    `fixed` holds what the form itself decides (a self-report's category, say)."""
    if request.method == "POST":
        key = f"form:{rate_limit_key(client_ip(request))}"
        if wait := hit(key, limit=settings.PUBLIC_FORM_RATE_PER_MINUTE):
            return _too_many(request, wait)
        if form.is_valid():
            data = form.cleaned_data
            report = report_submit(
                **{
                    "category": data.get("category"),
                    "involves_child": data.get("involves_child", False),
                    **fixed,
                },
                content=ContentFacts(url=data["content_url"], language=data.get("language", "")),
                description=data["description"],
                images=data["images"],
                reporter_email=data["email"],
                # Leaving an address on the form asks to hear back; the form says so.
                reporter_notify=bool(data["email"]),
                reporter_ip=client_ip(request),
                source=Report.Source.FORM,
            )
            return redirect("report_received", reference=report.reference)
    # Files chosen are not sent back to the browser with the errors: ask for them again.
    files_dropped = form.is_bound and bool(form.errors) and bool(request.FILES)
    return render(request, template, {"form": form, "files_dropped": files_dropped, **context})


@public
@require_http_methods(["GET", "POST"])
def report_form(request):
    form = ReportForm(request.POST or None, request.FILES or None)
    other_fields = [f for f in form if f.name != "category"]
    return _public_report(
        request,
        form,
        "reports/report_form.html",
        {"other_fields": other_fields},
        reporter_kind=Report.ReporterKind.PUBLIC,
    )


@public
@require_http_methods(["GET", "POST"])
def self_report_form(request):
    """The "take it down" path for a young person reporting an image of themselves."""
    form = SelfReportForm(request.POST or None, request.FILES or None)
    return _public_report(
        request,
        form,
        "reports/self_report_form.html",
        # Somewhere ordinary to go at once if someone comes into the room.
        {"quick_exit_url": settings.QUICK_EXIT_URL},
        category=Category.SELF_GENERATED,
        involves_child=True,
        reporter_kind=Report.ReporterKind.SELF,
    )


@public
@require_GET
def report_received(request, reference: str):
    # Shows only the reference and what happens next: nothing about the report's content, so a
    # guessed or shared link reveals nothing.
    report = None
    if REFERENCE_SHAPE.fullmatch(reference):
        report = (
            Report.objects.filter(reference=reference.upper())
            .only("reference", "reporter_kind", "category")
            .first()
        )
    if report is None:
        raise Http404("No such report")
    return render(
        request,
        "reports/report_received.html",
        {
            "report": report,
            "self_report": report.is_self_report,
            "platform_name": settings.VIGIL_PLATFORM_NAME,
        },
    )


@public
@require_GET
def report_status_view(request):
    form = StatusForm(request.GET or None)
    status = None
    looked_up = False
    if form.is_bound:
        if wait := hit(
            f"status:{rate_limit_key(client_ip(request))}", limit=STATUS_LOOKUPS_PER_MINUTE
        ):
            return _too_many(request, wait)
        if form.is_valid():
            looked_up = True
            status = report_status(form.cleaned_data["reference"])
    return render(
        request,
        "reports/report_status.html",
        {"form": form, "status": status, "looked_up": looked_up},
    )
