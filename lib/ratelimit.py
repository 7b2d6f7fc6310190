"""Fixed-window rate limits on the shared cache (Redis in production).

A limiter that cannot reach its cache lets the request through: refusing reports because the
counter is down would lose exactly what Vigil exists to receive.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def hit(key: str, *, limit: int, window: int = 60) -> int | None:
    """Count one request against `key`. Returns the seconds to wait when over the limit, else None."""
    now = time.time()
    bucket = int(now // window)
    cache_key = f"ratelimit:{key}:{bucket}"
    try:
        cache.add(cache_key, 0, timeout=window + 1)
        count = cache.incr(cache_key)
    except Exception as e:
        logger.warning("rate limiter unavailable, letting %s through: %s", key, e)
        return None
    if count > limit:
        return max(1, int((bucket + 1) * window - now + 0.999))
    return None
