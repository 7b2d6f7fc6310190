"""The embedded mode's in-process scheduling, in one place.

Without Redis (REDIS_URL unset) there is no RQ scheduler and no relay loop, so the periodic work
they do runs here, in the web process, throttled to once a minute per process, just before the
pages that need it:

- "Review next" (`review_next`): waiting time is brought up to date before it decides which case
  comes next, and packet assemblies whose in-process job died with the server (stuck in
  "assembling") are queued again.
- The escalation list (`escalations`): those assemblies are queued again, where people look for
  them.

With Redis this does nothing: the periodic chain (moderation/periodic/services.py) and
`manage.py relay_outbox` do the same work. The daily evidence purge and audit verification have
no in-process runner: in the embedded mode, run their management commands from cron.
"""

from django.conf import settings
from django.core.cache import cache

from moderation.cases.rollup import cases_refresh_waiting
from moderation.escalations.packet import escalations_requeue_stale
from moderation.periodic.services import STALE_AFTER

EMBEDDED_THROTTLE_SECONDS = 60


EMBEDDED_ASSEMBLY_LIMIT = 5


EMBEDDED_LIMIT = 500


def waiting_refresh_if_due() -> int:
    """Embedded mode only: recompute some stale cases, at most once a minute per process."""
    if not settings.JOBS_EAGER:
        return 0
    if not cache.add("vigil:waiting-refresh", 1, timeout=EMBEDDED_THROTTLE_SECONDS):
        return 0
    return cases_refresh_waiting(stale_after=STALE_AFTER, limit=EMBEDDED_LIMIT)


def escalations_requeue_if_due() -> int:
    """Embedded mode only: queue again assemblies left in ASSEMBLING by a process that stopped
    (what relay_outbox's sweep does with Redis), at most once a minute per process. In-process
    jobs run when the request's writes commit, so a few at a time: the request that finds them
    waits for their assembly."""
    if not settings.JOBS_EAGER:
        return 0
    if not cache.add("vigil:assembly-sweep", 1, timeout=EMBEDDED_THROTTLE_SECONDS):
        return 0
    return escalations_requeue_stale(limit=EMBEDDED_ASSEMBLY_LIMIT)


# Which periodic work runs just before which page (by URL name).
DUE_BEFORE = {
    "review_next": (waiting_refresh_if_due, escalations_requeue_if_due),
    "escalations": (escalations_requeue_if_due,),
}


class EmbeddedSchedulerMiddleware:
    """Runs the work DUE_BEFORE names before a signed-in person's page, in the embedded mode."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not settings.JOBS_EAGER or not request.user.is_authenticated:
            return None
        match = request.resolver_match
        for run in DUE_BEFORE.get(match.url_name if match else None, ()):
            run()
        return None
