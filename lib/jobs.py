"""Enqueueing background jobs.

Services call `enqueue()` inside their transaction; the job is handed over only after the transaction
commits, so a worker never sees an id whose row is not yet visible, and a rolled-back write sends
nothing. With REDIS_URL set the job goes to RQ through django-rq's on-commit mode and an `rqworker`
runs it; without it (the embedded mode) it runs in this process right after commit.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# Transient failures (a worker restarted, a database failover) are retried with backoff.
RETRY_INTERVALS = [10, 60, 300]


def enqueue(func: Callable, *args, queue: str = "default") -> None:
    if settings.JOBS_EAGER:
        transaction.on_commit(lambda: _run_eagerly(func, args))
        return

    import django_rq
    from rq import Retry

    django_rq.get_queue(queue).enqueue(
        func, *args, retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
    )


def _run_eagerly(func: Callable, args: tuple) -> None:
    try:
        func(*args)
    except Exception:
        # The write that enqueued this job has already committed; a failing job must not turn the
        # reporter's accepted request into an error. It is logged for operators.
        logger.exception("in-process job %s%r failed", func.__qualname__, args)
