"""bench.settings (the production settings, bench/urls.py) with this machine's 127.0.0.1 on
lib/safe_fetch.py's test-only allow-list, for bench/conversations.py alone: its link-fetching
workers fetch from a local HTTP server, as tests do (tests/reports/link_worker.py).

Only the name "127.0.0.1" skips the address check: a link, or a redirect, to `localhost` or
127.0.0.2 (loopback too) is checked as in production and refused, which the benchmark counts.
Deployments keep SAFE_FETCH_ALLOWED_HOSTS empty (config/settings.py never reads it from the
environment); nothing but bench/conversations.py names this module.
"""

from bench.settings import *  # noqa: F403

SAFE_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
