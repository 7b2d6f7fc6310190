"""An rqworker whose evidence copies are slow, so a test can kill it mid-assembly.

    python tests/moderation/packet_slow_worker.py QUEUE...

Each evidence file's copy first waits SLOW_COPY_SECONDS (default 0.5). Otherwise it is
`manage.py rqworker QUEUE...`: the job runs in a forked work horse, as in production. DATABASE_URL
must name the test database.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from moderation.escalations import packet_zip  # noqa: E402

real_copy = packet_zip.copy_chunks


def slow_copy(source, target, hasher):
    time.sleep(float(os.environ.get("SLOW_COPY_SECONDS", "0.5")))
    return real_copy(source, target, hasher)


packet_zip.copy_chunks = slow_copy

if __name__ == "__main__":
    call_command("rqworker", *sys.argv[1:])
