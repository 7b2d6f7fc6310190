"""An rqworker that may fetch links from this machine's test server, for tests of link fetching
through a real worker process.

    python tests/reports/link_worker.py QUEUE... [--burst]   (as deployed: high default links)

It is `manage.py rqworker` with Vigil's worker class, as in production, except that the hosts in
LINK_WORKER_ALLOWED_HOSTS (comma-separated) are put on lib/safe_fetch.py's test-only allow-list,
which deployments keep empty and never read from the environment. DATABASE_URL must name the test
database.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

settings.SAFE_FETCH_ALLOWED_HOSTS = [
    host for host in os.environ.get("LINK_WORKER_ALLOWED_HOSTS", "").split(",") if host
]

if __name__ == "__main__":
    call_command("rqworker", *sys.argv[1:])
