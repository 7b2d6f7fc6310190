"""The transparency report and the research export, for supervisors: the page with its charts,
and the same figures as CSV and JSON downloads (each download audited)."""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import supervisor_required
from lib.http import client_ip, csv_response
from moderation.decisions.models import Appeal, Decision
from moderation.dsa.views import PeriodForm
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from moderation.supervision import research
from moderation.supervision.charts import horizontal_bars
from moderation.supervision.services import research_export_record, transparency_export_record
from moderation.supervision.transparency import DETECTION_SOURCES, transparency_figures
from reports.categories import Category


def _form(request) -> PeriodForm:
    """The period asked for; this month so far when the URL names none."""
    if "from" in request.GET or "to" in request.GET:
        return PeriodForm(request.GET)
    today = timezone.now().date()
    return PeriodForm({"from": today.replace(day=1).isoformat(), "to": today.isoformat()})


def _filename(form, stem: str, ext: str) -> str:
    return f"{stem}-{form.cleaned_data['from']}-{form.cleaned_data['to']}.{ext}"


def _labelled(counts: dict, choices) -> list[tuple[str, int]]:
    labels = dict(choices.choices)
    return [(labels.get(key, key), n) for key, n in counts.items()]


def period_text(start, end) -> str:
    """The period a report covers, in words, for the charts' captions: both days included."""
    if start == end:
        return f"on {start.day} {start:%B %Y} (UTC)"
    return f"from {start.day} {start:%B %Y} to {end.day} {end:%B %Y} (UTC, both days included)"


def _charts(figures, period: str) -> dict:
    categories = dict(Category.choices)
    by_category = [
        (categories.get(key, key), sum(counts.values()))
        for key, counts in figures.signals_by_category.items()
    ]
    return {
        "sources": horizontal_bars(
            [
                ("User reports (public form)", figures.reports_by_source.get("form", 0)),
                ("User reports (platform API)", figures.reports_by_source.get("api", 0)),
                ("Automated flags", figures.flags),
                ("Hash matches (files)", figures.hash_matches),
            ],
            title="Signals received, by source",
            period=period,
            label_heading="Source",
            value_heading="Signals",
            testid="chart-sources",
        ),
        "categories": horizontal_bars(
            by_category,
            title="Signals received, by category",
            period=period,
            label_heading="Category",
            value_heading="Signals",
            testid="chart-categories",
        ),
        "detection": horizontal_bars(
            [(DETECTION_SOURCES[k], v) for k, v in figures.cases_by_detection.items()],
            title="Cases opened, by how they were detected",
            period=period,
            label_heading="Detected by",
            value_heading="Cases",
            testid="chart-detection",
        ),
        "decisions": horizontal_bars(
            _labelled(figures.decisions_by_action, Decision.Action),
            title="Decisions, by action",
            period=period,
            label_heading="Action",
            value_heading="Decisions",
            testid="chart-decisions",
        ),
        "actions": horizontal_bars(
            _labelled(figures.actions_by_kind, EnforcementAction.Kind),
            title="Enforcement actions, by kind",
            period=period,
            label_heading="Kind",
            value_heading="Actions",
            testid="chart-actions",
        ),
    }


@supervisor_required
@never_cache
@require_GET
def transparency(request):
    form = _form(request)
    if not form.is_valid():
        return render(request, "moderation/transparency.html", {"form": form}, status=400)
    since, until = form.period()
    figures = transparency_figures(since=since, until=until)
    query = {"from": form.cleaned_data["from"], "to": form.cleaned_data["to"]}
    period = period_text(query["from"], query["to"])
    return render(
        request,
        "moderation/transparency.html",
        {
            "form": form,
            "figures": figures,
            "data": figures.as_dict(),
            "charts": _charts(figures, period),
            "period": period,
            "escalation_statuses": _labelled(
                figures.escalations_opened_by_status, Escalation.Status
            ),
            "appeal_outcomes": _labelled(figures.appeals_decided, Appeal.Status),
            "query": query,
            "categories": dict(Category.choices),
            "median_hours": (figures.median_seconds_to_action or 0) / 3600,
        },
    )


@supervisor_required
@never_cache
@require_GET
def transparency_csv(request):
    form = _form(request)
    if not form.is_valid():
        return render(request, "moderation/transparency.html", {"form": form}, status=400)
    since, until = form.period()
    figures = transparency_figures(since=since, until=until)
    transparency_export_record(
        user=request.user, since=since, until=until, fmt="csv", ip=client_ip(request)
    )
    return csv_response(
        [["section", "key", "value"], *figures.rows()],
        filename=_filename(form, "transparency", "csv"),
    )


@supervisor_required
@never_cache
@require_GET
def transparency_json(request):
    form = _form(request)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    since, until = form.period()
    figures = transparency_figures(since=since, until=until)
    transparency_export_record(
        user=request.user, since=since, until=until, fmt="json", ip=client_ip(request)
    )
    response = JsonResponse(figures.as_dict())
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(form, "transparency", "json")}"'
    )
    return response


def _research_page(request, form, status=200):
    return render(
        request,
        "moderation/research_export.html",
        {
            "form": form,
            "columns": research.COLUMNS,
            "k": research.min_group(),
            "buckets": [label for _, label in research.TIME_BUCKETS]
            + [research.OVER_LAST_BUCKET, research.NOT_ACTED],
        },
        status=status,
    )


@supervisor_required
@never_cache
@require_GET
def research_export_page(request):
    today = timezone.now().date()
    return _research_page(request, PeriodForm(initial={"from": today.replace(day=1), "to": today}))


def _export(request, form, fmt):
    since, until = research.whole_weeks(*form.period(), now=timezone.now())
    export = research.research_export(since=since, until=until)
    research_export_record(
        user=request.user,
        since=since,
        until=until,
        fmt=fmt,
        rows=export.groups,
        cases=export.cases,
        suppressed=export.suppressed,
        k=export.k,
        ip=client_ip(request),
    )
    return export


@supervisor_required
@never_cache
@require_GET
def research_export_csv(request):
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return _research_page(request, form, status=400)
    export = _export(request, form, "csv")

    def rows():
        yield [*research.COLUMNS, "cases"]
        for row in export.iter_rows():
            yield [row[c] for c in research.COLUMNS] + [row["cases"]]

    response = csv_response(rows(), filename=_filename(form, "research-export", "csv"))
    # The header says what was left out, as the JSON's "suppressed_cases" does.
    response["X-Vigil-Suppressed-Cases"] = str(export.suppressed)
    response["X-Vigil-Min-Group"] = str(export.k)
    return response


@supervisor_required
@never_cache
@require_GET
def research_export_json(request):
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    export = _export(request, form, "json")
    response = JsonResponse(
        {
            "period": {"from": export.since.isoformat(), "until": export.until.isoformat()},
            "min_group": export.k,
            "columns": [*research.COLUMNS, "cases"],
            "published_cases": export.cases,
            "suppressed_cases": export.suppressed,
            "rows": list(export.iter_rows()),
        }
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(form, "research-export", "json")}"'
    )
    return response
