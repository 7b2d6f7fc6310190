"""Fixed-window rate limits on the shared cache (Redis in production).

A limiter that cannot reach its cache lets the request through: refusing reports because the
counter is down would lose exactly what Vigil exists to receive.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache

from lib.jobs import redis_connection

logger = logging.getLogger(__name__)


def hit(key: str, *, limit: int, window: int = 60) -> int | None:
    """Count one request against `key`. Returns the seconds to wait when over the limit, else None."""
    now = time.time()
    bucket = int(now // window)
    cache_key = f"ratelimit:{key}:{bucket}"
    try:
        count = _count(cache_key, window)
    except Exception as e:
        logger.warning("rate limiter unavailable, letting %s through: %s", key, e)
        return None
    if count > limit:
        return max(1, int((bucket + 1) * window - now + 0.999))
    return None


def _count(cache_key: str, window: int) -> int:
    if settings.REDIS_URL:
        # One round trip on the hot path of every API call.
        pipe = redis_connection(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incr(cache_key)
        pipe.expire(cache_key, window + 1, nx=True)
        count, _ = pipe.execute()
        return count
    cache.add(cache_key, 0, timeout=window + 1)
    return cache.incr(cache_key)
