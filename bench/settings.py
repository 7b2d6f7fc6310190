"""Settings for the HTTP benchmarks: production settings, plus a trivial endpoint (bench/urls.py).

Everything else — middleware, database, cache, DEBUG off — is exactly config.settings, so the trivial
endpoint and the API are served the same way. DATABASE_URL, REDIS_URL and SECRET_KEY come from the
environment (bench/intake.py sets them for the gunicorn it starts).
"""

import os

# Loopback, plain HTTP: no TLS-only cookies, only the loopback host names.
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("SECURE_COOKIES", "false")
# Never benchmark with DEBUG on: it keeps every query in memory and renders debug pages.
os.environ["DEBUG"] = "false"

from config.settings import *  # noqa: E402,F403

ROOT_URLCONF = "bench.urls"
