"""Waiting time counts towards priority, so open cases are recomputed periodically.

With Redis: one chain of RQ scheduled jobs (run by workers started `--with-scheduler`). Each run
first schedules the next, then recomputes. The next run's job id is its time slot
(`vigil-refresh-waiting-<slot>`), scheduled with `unique=True`: however many processes try to
(re)start the chain — each run, every relay_outbox pass, a restart — one job exists per slot, so
there is never more than one chain, and a chain Redis lost is restarted by the next relay pass.

Without Redis (embedded mode) there is no RQ scheduler: moderation/periodic/embedded.py runs the
same work in the serving process, before the pages that need it (at most once a minute) and on the
clock in a background thread (this run every 5 minutes, the daily purge and verification).

Each run also rebuilds queue health's recent hourly figures (moderation/supervision/queue_health.py).

The same chain keeps the daily purge of expired evidence scheduled (moderation/escalations/custody.py): each
run makes sure tomorrow's purge job exists, one per day by the same unique-job-id rule.

Each run also seals audit events still unsealed (moderation/audit/chain.py: those whose
after-commit sealing was skipped or failed) and keeps the daily audit chain verification
scheduled the same way.
"""

import contextlib
import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from rq.exceptions import DuplicateJobError

from lib.jobs import get_queue
from moderation.audit.chain import audit_seal
from moderation.audit.jobs import verify_audit_log
from moderation.cases.rollup import cases_refresh_waiting
from moderation.escalations.jobs import purge_expired_evidence
from moderation.exchanges.services import exchanges_enqueue_due
from moderation.periodic.jobs import refresh_waiting_priorities
from moderation.supervision.queue_health import queue_hours_refresh

PERIOD_SECONDS = 300
JOB_PREFIX = "vigil-refresh-waiting-"
# Cases whose priority is older than this get it again (priority counts whole waiting hours).
STALE_AFTER = timedelta(minutes=10)
# One run does at most MAX_BATCHES batches of BATCH cases; the rest wait for the next run.
BATCH = 1000
MAX_BATCHES = 20

PURGE_JOB_PREFIX = "vigil-purge-evidence-"
DAY_SECONDS = 86400
# The purge runs daily at this hour (UTC), a quiet time for the workers.
PURGE_HOUR_UTC = 3

VERIFY_JOB_PREFIX = "vigil-verify-audit-"
VERIFY_HOUR_UTC = 2

logger = logging.getLogger(__name__)


def next_slot(now: datetime) -> int:
    return int(now.timestamp() // PERIOD_SECONDS) + 1


def waiting_refresh_schedule(*, now: datetime | None = None) -> str | None:
    """Make sure the next periodic run is scheduled. Idempotent; returns its job id (None in the
    embedded mode, which has no scheduler)."""
    if settings.JOBS_EAGER:
        return None

    slot = next_slot(now or datetime.now(UTC))
    job_id = f"{JOB_PREFIX}{slot}"
    # Another process scheduled this slot already: that is the one chain.
    with contextlib.suppress(DuplicateJobError):
        get_queue().enqueue_at(
            datetime.fromtimestamp(slot * PERIOD_SECONDS, UTC),
            refresh_waiting_priorities,
            job_id=job_id,
            unique=True,
            # Kept past its slot, so a process whose clock lags cannot schedule the slot again.
            result_ttl=PERIOD_SECONDS * 2,
            description="recompute waiting open cases' priorities",
        )
    return job_id


def _daily_schedule(
    func, *, prefix: str, hour_utc: int, now: datetime | None, **options
) -> str | None:
    """Make sure tomorrow's run of the daily job `func` is scheduled at `hour_utc`. Idempotent:
    the job id is `prefix` + the day, scheduled with `unique=True`, so one job exists per day
    however many runs ask. Returns its job id (None in the embedded mode, which has no
    scheduler)."""
    if settings.JOBS_EAGER:
        return None

    now = now or datetime.now(UTC)
    day = int((now.timestamp() - hour_utc * 3600) // DAY_SECONDS) + 1
    job_id = f"{prefix}{day}"
    with contextlib.suppress(DuplicateJobError):
        get_queue().enqueue_at(
            datetime.fromtimestamp(day * DAY_SECONDS + hour_utc * 3600, UTC),
            func,
            job_id=job_id,
            unique=True,
            result_ttl=DAY_SECONDS * 2,
            **options,
        )
    return job_id


def evidence_purge_schedule(*, now: datetime | None = None) -> str | None:
    """The daily purge of expired evidence (moderation/escalations/custody.py)."""

    return _daily_schedule(
        purge_expired_evidence,
        prefix=PURGE_JOB_PREFIX,
        hour_utc=PURGE_HOUR_UTC,
        now=now,
        description="delete evidence whose preservation has ended",
    )


def audit_verify_schedule(*, now: datetime | None = None) -> str | None:
    """The daily audit chain verification (moderation/audit/verification.py)."""

    return _daily_schedule(
        verify_audit_log,
        prefix=VERIFY_JOB_PREFIX,
        hour_utc=VERIFY_HOUR_UTC,
        now=now,
        # Millions of events take a minute or more.
        job_timeout=3600,
        description="verify the audit log's hash chain",
    )


def waiting_refresh_run() -> int:
    """One periodic run: schedule the next one first (a failure below must not end the chain),
    then recompute stale open cases. Returns how many were recomputed."""
    waiting_refresh_schedule()
    try:
        evidence_purge_schedule()
    except Exception:
        # The purge is retried by the next run (five minutes on); the recompute must go on.
        logger.exception("Could not schedule the evidence purge")
    try:
        queue_hours_refresh()
    except Exception:
        # Queue health's recent hours are rebuilt again by the next run; the recompute must go on.
        logger.exception("Could not rebuild queue health's recent hours")
    try:
        exchanges_enqueue_due()
    except Exception:
        # Syncs and feedback are asked for again by the next run; the recompute must go on.
        logger.exception("Could not ask for the hash exchanges' syncs and feedback")
    try:
        audit_verify_schedule()
        audit_seal()
    except Exception:
        logger.exception("Could not seal the audit log or schedule its verification")
    total = 0
    for _ in range(MAX_BATCHES):
        done = cases_refresh_waiting(stale_after=STALE_AFTER, limit=BATCH)
        total += done
        if done < BATCH:
            break
    return total
