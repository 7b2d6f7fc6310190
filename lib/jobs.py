"""RQ plumbing shared by every app: the queue on REDIS_URL, the retry schedule, job paths.

Services enqueue through `moderation.outbox.services.enqueue`, which writes the job to the outbox
in the caller's transaction and hands it to RQ after commit (or, in the embedded mode without
Redis, runs it in-process after commit).
"""

from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings
from rq import Queue

# Transient failures (a worker restarted, a database failover) are retried with backoff.
RETRY_INTERVALS = [10, 60, 300]
# A request must not hang on a Redis that is down: fail fast and leave the job to the relay.
REDIS_TIMEOUT_SECONDS = 1.0


def job_path(func: Callable) -> str:
    return f"{func.__module__}.{func.__qualname__}"


@cache
def redis_connection(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )


def get_queue(name: str = "default"):
    """The RQ queue on REDIS_URL as configured now (read at call time, not import time)."""
    return Queue(name, connection=redis_connection(settings.REDIS_URL))
