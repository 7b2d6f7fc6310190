from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from lib.access import public
from lib.http import client_ip
from reports.forms import ReportForm
from reports.models import Report
from reports.services import report_submit


@public
@require_GET
def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return redirect("report")


@public
@require_http_methods(["GET", "POST"])
def report_form(request):
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            report = report_submit(
                category=data["category"],
                content_url=data["content_url"],
                description=data["description"],
                involves_child=data["involves_child"],
                images=[data["image"]] if data["image"] else [],
                reporter_kind=Report.ReporterKind.PUBLIC,
                source=Report.Source.FORM,
                ip=client_ip(request),
            )
            return redirect("report_received", reference=report.reference)
    else:
        form = ReportForm()
    return render(request, "reports/report_form.html", {"form": form})


@public
@require_GET
def report_received(request, reference: str):
    # Shows only the reference and what happens next: nothing about the report's content, so a
    # guessed or shared link reveals nothing.
    report = get_object_or_404(Report, reference=reference.upper())
    return render(request, "reports/report_received.html", {"report": report})
