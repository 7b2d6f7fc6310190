"""Enqueueing background jobs, safely: every service hands its jobs to `enqueue`.

Services call `enqueue()` inside their transaction. Nothing leaves the process before commit, so a
worker never sees an id whose row is not yet visible and a rolled-back write sends nothing.

- Embedded mode (no REDIS_URL): the job runs in this process right after commit.
- With Redis: the job is first written to the `OutboxJob` table in the same transaction, then
  handed to RQ after commit. If Redis is unreachable the row stays pending and
  `manage.py relay_outbox` hands it over once Redis is back, so an accepted report never loses
  its jobs. Jobs are idempotent, so a job handed over twice does no harm.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string
from rq import Retry

from lib.jobs import RETRY_INTERVALS, get_queue, job_path
from moderation.outbox.models import OutboxJob

logger = logging.getLogger(__name__)


def enqueue(func: Callable, *args, queue: str | None = None) -> None:
    """`queue`: the RQ queue, else the job function's own `queue` attribute, else "default"."""
    if settings.JOBS_EAGER:
        transaction.on_commit(lambda: _run_eagerly(func, args))
        return

    job = OutboxJob.objects.create(
        func=job_path(func), args=list(args), queue=_queue_for(func, queue)
    )
    transaction.on_commit(lambda: _relay_quietly([job.pk]))


def enqueue_many(func: Callable, calls: Sequence[tuple], *, queue: str | None = None) -> None:
    """`enqueue(func, *args)` for each `args` in `calls`, with one INSERT for all their outbox rows
    and one hand-over after commit: for a service that writes many changes at once."""
    calls = [tuple(args) for args in calls]
    if not calls:
        return
    if settings.JOBS_EAGER:
        transaction.on_commit(lambda: [_run_eagerly(func, args) for args in calls])
        return
    jobs = OutboxJob.objects.bulk_create(
        [
            OutboxJob(func=job_path(func), args=list(args), queue=_queue_for(func, queue))
            for args in calls
        ]
    )
    ids = [job.pk for job in jobs]
    transaction.on_commit(lambda: _relay_quietly(ids))


def _queue_for(func: Callable, queue: str | None = None) -> str:
    """The queue a job goes to: the caller's choice (an urgent escalation's "high"), else the one
    its function names (`fetch_link.queue = "links"`: below the default queue), else "default"."""
    return queue or getattr(func, "queue", None) or "default"


def _relay_quietly(ids: list[int]) -> None:
    try:
        # All of them: a batch may hand over more than the relay loop's usual pass.
        relay(ids, limit=max(len(ids), 1))
    except Exception:
        # Committed already; the relay loop will pick the job up. Never fail the request for it.
        logger.exception("could not hand outbox jobs %r to RQ", ids)


def _run_eagerly(func: Callable, args: tuple) -> None:
    try:
        func(*args)
    except Exception:
        # The write that enqueued this job has already committed; a failing job must not turn the
        # reporter's accepted request into an error. It is logged for operators.
        logger.exception("in-process job %s%r failed", func.__qualname__, args)


def relay(
    ids: list[int] | None = None, *, older_than: timedelta | None = None, limit: int = 500
) -> int:
    """Hand pending outbox jobs to RQ. Returns how many were handed over.

    With `ids`, those jobs (right after the commit that created them); otherwise pending jobs older
    than `older_than` (the relay loop), oldest first. Rows are locked with SKIP LOCKED, so several
    relays can run at once without handing a job over twice.
    """
    relayed = 0
    with transaction.atomic(durable=True):
        pending = OutboxJob.objects.filter(enqueued_at__isnull=True)
        if ids is not None:
            pending = pending.filter(pk__in=ids)
        if older_than is not None:
            pending = pending.filter(created_at__lte=timezone.now() - older_than)
        jobs = list(
            pending.order_by("created_at", "pk").select_for_update(skip_locked=True)[:limit]
        )
        for job in jobs:
            try:
                func = import_string(job.func)
                get_queue(job.queue).enqueue(
                    func,
                    *job.args,
                    job_id=f"outbox-{job.pk}",
                    retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                    # A job that may take longer than the queue's default says so itself.
                    job_timeout=getattr(func, "job_timeout", None),
                )
            except redis.RedisError as e:
                # Redis is down: keep this and every later job for the next relay pass.
                left = [j.pk for j in jobs if j.enqueued_at is None]
                OutboxJob.objects.filter(pk__in=left).update(
                    attempts=F("attempts") + 1, last_error=str(e)[:500]
                )
                logger.warning("Redis unreachable; %d job(s) stay in the outbox: %s", len(left), e)
                break
            except Exception as e:
                # This job cannot be handed over (its function is gone after a deploy, say): note
                # why and go on, so one bad row never blocks the jobs behind it.
                OutboxJob.objects.filter(pk=job.pk).update(
                    attempts=F("attempts") + 1, last_error=f"{type(e).__name__}: {e}"[:500]
                )
                logger.exception("outbox job %s cannot be enqueued", job.pk)
                continue
            job.enqueued_at = timezone.now()
            OutboxJob.objects.filter(pk=job.pk).update(enqueued_at=job.enqueued_at, last_error="")
            relayed += 1
    return relayed


def outbox_prune(*, older_than: timedelta) -> int:
    """Delete outbox rows handed over long ago: RQ has the job (or has run it)."""
    deleted, _ = OutboxJob.objects.filter(
        enqueued_at__isnull=False, enqueued_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
