"""`GET /healthz`: is this process able to serve? Public contract (see SPEC.md)."""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from lib.access import public


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return False
    return True


def check_queue() -> str:
    """ "eager" when jobs run in-process, "ok" when Redis answers, "down" otherwise."""
    if settings.JOBS_EAGER:
        return "eager"
    # A short timeout of our own: a health check that hangs is worse than one that fails.
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        return "down"
    finally:
        client.close()
    return "ok"


# Anyone may call this: load balancers and orchestrators probe it without credentials, and it
# reveals nothing beyond whether the dependencies answer.
@public
@never_cache
@require_GET
def healthz(request):
    body = {
        "database": "ok" if check_database() else "down",
        "queue": check_queue(),
    }
    failing = [name for name, state in body.items() if state == "down"]
    if failing:
        body["failing"] = failing
        return JsonResponse(body, status=503)
    return JsonResponse(body)
