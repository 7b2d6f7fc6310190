"""The embedded mode's in-process scheduling, in one place.

Without Redis (REDIS_URL unset) there is no RQ scheduler and no relay loop, so the process serving
the pages does their work itself, in two ways.

Before the pages that need it, throttled to once a minute per process (EmbeddedSchedulerMiddleware):

- "Review next" (`review_next`): waiting time is brought up to date before it decides which case
  comes next, and packet assemblies whose in-process job died with the server (stuck in
  "assembling") are queued again.
- The escalation list (`escalations`): those assemblies are queued again, where people look for
  them.
- Queue health (`queue_health` and its live partial): the recent hourly figures are rebuilt.

Only for a request the page would serve (its method, a signed-in person with its permission),
so nobody else sets this work going.

On the clock, whether or not anyone opens a page, in a background thread of the serving process
(`background_start`, called by config/wsgi.py, so by `runserver` and gunicorn alike; never by
manage.py commands or the test suite):

- webhook deliveries that are due (first attempts lost with a stopped server, and retries), every
  15 seconds, as `manage.py deliver_actions` would;
- reporter notices that are due (the mail server was down, and retries), every 15 seconds, as
  `manage.py send_notices` would;
- the periodic run every 5 minutes, as the RQ chain would: waiting time, queue health's recent
  hours, and sealing audit events still unsealed;
- the purge of evidence whose preservation has ended, when the server starts and daily after;
- the audit chain verification (sealing first, the result stored for /audit/), when none has
  been started in the last day; looked for hourly.

So nothing needs cron while the server runs. The management commands still do each of these by
hand. With Redis all of this does nothing: the periodic chain (moderation/periodic/services.py),
RQ's retries and `manage.py relay_outbox` do the same work.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from accounts import roles
from moderation.audit.models import AuditVerification
from moderation.audit.verification import audit_verification_run
from moderation.cases.rollup import cases_refresh_waiting
from moderation.enforcement.delivery import deliveries_sweep
from moderation.escalations.custody import evidence_purge_expired
from moderation.escalations.packet import escalations_requeue_stale
from moderation.notices.services import notices_sweep
from moderation.periodic.services import PERIOD_SECONDS, STALE_AFTER, waiting_refresh_run
from moderation.supervision.queue_health import queue_hours_refresh

logger = logging.getLogger(__name__)

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
    # Auto-advance claims the next case after these (moderation/review/views.py _onwards).
    "case_decide": Due("POST", roles.REVIEW, (waiting_refresh_if_due,)),
    "case_skip": Due("POST", roles.REVIEW, (waiting_refresh_if_due,)),
    "case_decide_cluster": Due("POST", roles.REVIEW, (waiting_refresh_if_due,)),
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


# How often the background thread does each kind of work, in seconds.
DELIVERY_SECONDS = 15
HOUR_SECONDS = 3600
DAY_SECONDS = 86400
VERIFY_EVERY = timedelta(days=1)
# The first pass waits this long after start-up, so the server answers its first requests first.
FIRST_PASS_DELAY = 5.0


def audit_verification_if_due() -> AuditVerification | None:
    """Seal, verify and record the audit chain unless a verification was started in the last day
    (by this thread, another process, or a supervisor): restarts do not verify again and again."""
    since = timezone.now() - VERIFY_EVERY
    if AuditVerification.objects.filter(created_at__gt=since).exists():
        return None
    return audit_verification_run()


@dataclass(frozen=True)
class Every:
    """Background work, run every `seconds`."""

    name: str
    seconds: float
    work: Callable[[], object]


BACKGROUND = (
    Every("webhook deliveries due", DELIVERY_SECONDS, deliveries_sweep),
    Every("reporter notices due", DELIVERY_SECONDS, notices_sweep),
    Every("periodic run", PERIOD_SECONDS, waiting_refresh_run),
    Every("evidence purge", DAY_SECONDS, evidence_purge_expired),
    Every("audit verification", HOUR_SECONDS, audit_verification_if_due),
)


class BackgroundScheduler:
    """Runs each task of `tasks` when due. `run_due` is one pass; the thread calls it in a loop."""

    def __init__(self, tasks=BACKGROUND, *, now: float, first_pass_delay: float = 0.0):
        self.tasks = tuple(tasks)
        self.next_at = {task.name: now + first_pass_delay for task in self.tasks}

    def run_due(self, now: float) -> list[str]:
        """Run every task whose time has come; returns their names. A task that fails is logged
        and tried again at its next time: the others go on."""
        ran = []
        for task in self.tasks:
            if now < self.next_at[task.name]:
                continue
            self.next_at[task.name] = now + task.seconds
            try:
                task.work()
            except Exception:
                logger.exception("embedded scheduler: %s failed", task.name)
            ran.append(task.name)
        return ran

    def seconds_to_next(self, now: float) -> float:
        return max(0.0, min(self.next_at.values()) - now)


@dataclass
class Background:
    thread: threading.Thread
    stop: threading.Event


_background: Background | None = None
_background_lock = threading.Lock()


def _background_loop(scheduler: BackgroundScheduler, stop: threading.Event) -> None:
    while not stop.wait(scheduler.seconds_to_next(time.monotonic())):
        try:
            scheduler.run_due(time.monotonic())
        finally:
            # This thread's own connections: a fresh one each pass, as a request would have.
            connections.close_all()


def background_start(tasks=BACKGROUND) -> Background | None:
    """Start the background scheduler in this process, once. Only in the embedded mode, and only
    where settings.EMBEDDED_SCHEDULER allows (the serving process; the test suite turns it off and
    runs passes itself). A daemon thread: it ends with the process."""
    global _background
    if not (settings.JOBS_EAGER and settings.EMBEDDED_SCHEDULER):
        return None
    with _background_lock:
        if _background is None or not _background.thread.is_alive():
            scheduler = BackgroundScheduler(
                tasks, now=time.monotonic(), first_pass_delay=FIRST_PASS_DELAY
            )
            stop = threading.Event()
            thread = threading.Thread(
                target=_background_loop,
                args=(scheduler, stop),
                name="vigil-embedded-scheduler",
                daemon=True,
            )
            _background = Background(thread=thread, stop=stop)
            thread.start()
        return _background
