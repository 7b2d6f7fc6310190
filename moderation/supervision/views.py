"""Queue health for supervisors: the page, and the partial htmx polls to keep it live."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import supervisor_required
from moderation.supervision.charts import chart_html, queue_charts
from moderation.supervision.queue_health import queue_health

POLL_SECONDS = 30


def _context():
    # Embedded mode: the recent hours were rebuilt just before this view
    # (moderation/periodic/embedded.py).
    health = queue_health()
    for row in health.queues:
        row.chart_hours_html, row.chart_days_html = map(chart_html, queue_charts(row))
    return {"health": health, "poll_seconds": POLL_SECONDS}


@supervisor_required
@never_cache
@require_GET
def queue_health_page(request):
    return render(request, "moderation/queue_health.html", _context())


@supervisor_required
@never_cache
@require_GET
def queue_health_live(request):
    return render(request, "moderation/_queue_health.html", _context())
