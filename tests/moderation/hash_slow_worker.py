"""An rqworker whose image hashing is slow, so a test can kill it in the middle of a hashing job.

    python tests/moderation/hash_slow_worker.py QUEUE...

Reading each file first waits SLOW_HASH_SECONDS (default 30), after writing the media's id and the
hashing process's pid to HASH_STARTED_FLAG. Otherwise it is `manage.py rqworker QUEUE...` with
Vigil's worker class (or `--worker-class`), as in production. DATABASE_URL must name the test
database.
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

from moderation.banks import hashing  # noqa: E402

real_hash_file = hashing._hash_file


def slow_hash_file(media):
    # Which process hashes: the worker itself, or a work horse it forked.
    Path(os.environ["HASH_STARTED_FLAG"]).write_text(f"{media.pk} {os.getpid()}")
    time.sleep(float(os.environ.get("SLOW_HASH_SECONDS", "30")))
    return real_hash_file(media)


hashing._hash_file = slow_hash_file

if __name__ == "__main__":
    call_command("rqworker", *sys.argv[1:])
