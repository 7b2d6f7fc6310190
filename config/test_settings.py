"""Settings for the test suite: production settings with test-only secrets and fast hashing.

DATABASE_URL / REDIS_URL are honoured exactly as in production, so the same suite runs embedded
(SQLite, in-process jobs) and on the real PostgreSQL + Redis.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "vigil-test-suite-key")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# The live server used by browser tests speaks plain HTTP.
os.environ.setdefault("SECURE_COOKIES", "false")

from config.settings import *  # noqa: E402,F403

# The suite creates many users; the real hashers are deliberately slow.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files straight from the source tree: tests never run collectstatic.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Sampling is random by nature: tests of re-review switch it on and pass their own draw.
REREVIEW_SAMPLING = False
# Tests read the chain right after each commit: seal on every one (the interval has its own test).
AUDIT_SEAL_INTERVAL_MS = 0
# No background scheduler thread (tests/test_api_fuzz.py imports config.wsgi): tests run its
# passes themselves (tests/moderation/periodic/test_embedded.py).
EMBEDDED_SCHEDULER = False
# Index snapshot files in a directory of this run's own (each snapshot's files are named by a
# random key, so runs and databases never share them).
INDEX_DIR = Path(
    os.environ.get("VIGIL_INDEX_DIR")
    or Path(tempfile.gettempdir()) / f"vigil-test-index-{os.getpid()}"
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # The test database in a file, not in memory. Django gives a live server's request threads
    # the test's own connection to an in-memory database, so two requests at once (a page's
    # two images) entered atomic blocks on one connection: a durable block refused, and a block
    # left open for every test after. With a file, each thread has its own connection, as the
    # embedded mode's server threads do. Nothing needs it to survive a crash: no fsync.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"vigil-test-{os.getpid()}.sqlite3")
    }
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA synchronous = OFF"  # noqa: F405
