"""The embedded mode's in-process scheduling, in one place.

Without Redis (REDIS_URL unset) there is no RQ scheduler and no relay loop, so the periodic work
they do runs here, in the web process, throttled to once a minute per process, just before the
pages that need it:

- "Review next" (`review_next`): waiting time is brought up to date before it decides which case
  comes next, and packet assemblies whose in-process job died with the server (stuck in
  "assembling") are queued again.
- The escalation list (`escalations`): those assemblies are queued again, where people look for
  them.
- Queue health (`queue_health` and its live partial): the recent hourly figures are rebuilt.

Only for a request the page would serve (its method, a signed-in person with its permission),
so nobody else sets this work going.

With Redis this does nothing: the periodic chain (moderation/periodic/services.py) and
`manage.py relay_outbox` do the same work. The daily evidence purge and audit verification have
no in-process runner: in the embedded mode, run their management commands from cron.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts import roles
from moderation.cases.rollup import cases_refresh_waiting
from moderation.escalations.packet import escalations_requeue_stale
from moderation.periodic.services import STALE_AFTER
from moderation.supervision.queue_health import queue_hours_refresh

EMBEDDED_THROTTLE_SECONDS = 60


EMBEDDED_ASSEMBLY_LIMIT = 5
EMBEDDED_LIMIT = 500


def _throttled(key: str, work: Callable[[], int]) -> int:
    """Embedded mode only: `work`, at most once a minute per cache (per process on the
    embedded default's local-memory cache). With Redis the periodic chain does it."""
    if not settings.JOBS_EAGER:
        return 0
    if not cache.add(key, 1, timeout=EMBEDDED_THROTTLE_SECONDS):
        return 0
    return work()


def waiting_refresh_if_due() -> int:
    """Recompute some stale cases' waiting-time priority."""
    return _throttled(
        "vigil:waiting-refresh",
        lambda: cases_refresh_waiting(stale_after=STALE_AFTER, limit=EMBEDDED_LIMIT),
    )


def escalations_requeue_if_due() -> int:
    """Queue again assemblies left in ASSEMBLING by a process that stopped (what relay_outbox's
    sweep does with Redis). In-process jobs run when the request's writes commit, so a few at a
    time: the request that finds them waits for their assembly."""
    return _throttled(
        "vigil:assembly-sweep", lambda: escalations_requeue_stale(limit=EMBEDDED_ASSEMBLY_LIMIT)
    )


def queue_hours_refresh_if_due() -> int:
    """Rebuild queue health's recent hours."""
    return _throttled("vigil:queue-hours-refresh", queue_hours_refresh)


@dataclass(frozen=True)
class Due:
    """Periodic work run before a page, for a request the page itself would serve."""

    method: str
    perm: str
    work: tuple[Callable[[], int], ...]


# Which periodic work runs just before which page (by URL name), for whom.
DUE_BEFORE = {
    "review_next": Due("POST", roles.REVIEW, (waiting_refresh_if_due, escalations_requeue_if_due)),
    "escalations": Due("GET", roles.REVIEW, (escalations_requeue_if_due,)),
    "queue_health": Due("GET", roles.SUPERVISE, (queue_hours_refresh_if_due,)),
    "queue_health_live": Due("GET", roles.SUPERVISE, (queue_hours_refresh_if_due,)),
}


class EmbeddedSchedulerMiddleware:
    """Runs the work DUE_BEFORE names before a page, in the embedded mode, for a request that page
    would serve (its method, a signed-in person with its permission)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not settings.JOBS_EAGER:
            return None
        match = request.resolver_match
        due = DUE_BEFORE.get(match.url_name) if match else None
        if due is None or request.method != due.method or not request.user.has_perm(due.perm):
            return None
        for run in due.work:
            run()
        return None
