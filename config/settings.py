"""Vigil settings, read from the environment.

Every variable is documented in `.env.example`. With DATABASE_URL and REDIS_URL unset Vigil runs
embedded (SQLite, jobs executed in-process after commit) so a newcomer sees the whole product with one
command; production sets both.
"""

import contextlib
import math
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not math.isfinite(number) or number < 0:
        raise ImproperlyConfigured(f"{name} must be a number of at least 0, not {value!r}")
    return number


def env_int_list(name: str, default: list[int]) -> list[int]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be comma-separated whole numbers, not {value!r}"
        ) from None


# Loopback hosts may be reached over plain HTTP (a receiver on the same machine, in tests).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def check_webhook_settings(*, url: str, secret: str, timeout: int, intervals, debug: bool):
    """Refuse to start with a webhook configuration that would fail, or leak, at delivery time."""

    if not url:
        if secret:
            raise ImproperlyConfigured(
                "PLATFORM_WEBHOOK_SECRET is set but PLATFORM_WEBHOOK_URL is not: set both, or "
                "neither to leave delivery off."
            )
        return
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise ImproperlyConfigured(f"PLATFORM_WEBHOOK_URL is not a URL: {url!r}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ImproperlyConfigured("PLATFORM_WEBHOOK_URL must be an https:// URL with a host.")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS and not debug:
        # Signed is not secret: the payload names accounts and content. Plain HTTP only locally.
        raise ImproperlyConfigured(
            "PLATFORM_WEBHOOK_URL must use https:// (http only for localhost)."
        )
    if parts.username or parts.password:
        raise ImproperlyConfigured(
            "PLATFORM_WEBHOOK_URL must not carry credentials: requests are authenticated by "
            "their signature (PLATFORM_WEBHOOK_SECRET)."
        )
    if len(secret) < 32:
        raise ImproperlyConfigured(
            "PLATFORM_WEBHOOK_SECRET must be set, at least 32 characters, when "
            "PLATFORM_WEBHOOK_URL is (generate one with "
            'python -c "import secrets; print(secrets.token_urlsafe(32))").'
        )
    if not 1 <= timeout <= 60:
        raise ImproperlyConfigured("PLATFORM_WEBHOOK_TIMEOUT_SECONDS must be between 1 and 60.")
    if len(intervals) > 20 or any(not 1 <= i <= 86400 for i in intervals):
        raise ImproperlyConfigured(
            "PLATFORM_WEBHOOK_RETRY_INTERVALS must be at most 20 intervals of 1 to 86400 seconds."
        )


def local_secret_key(path: Path) -> str:
    """The secret key kept in `path`, made on first use: random, and readable by its owner only.

    Written to a private temporary file (mkstemp: mode 0600) and hard-linked into place, which
    fails if the file exists: when two processes start at once, the first one's key is everyone's.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-key-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(50) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if len(key) < 50:
        raise ImproperlyConfigured(
            f"{path} does not hold a usable secret key: set SECRET_KEY, or delete the file and "
            "Vigil makes a new one (signed-in people are signed out)."
        )
    return key


DEBUG = env_bool("DEBUG", False)

# Local state of the embedded mode (SQLite file, its secret key, private media) lives under var/,
# never committed.
VAR_DIR = Path(os.environ.get("VIGIL_VAR_DIR") or BASE_DIR / "var")
DATABASE_URL = os.environ.get("DATABASE_URL", "")

# SECRET_KEY signs sessions and CSRF tokens and keys reporters' fingerprints (reports/services.py):
# it must be secret, and the same in every process of a deployment, for good.
# - Production (DATABASE_URL set, DEBUG off) must set it: a key made up on one machine would differ
#   on the next web or worker machine. Vigil refuses to start without one.
# - On the embedded default (no DATABASE_URL: one machine, one SQLite file), or with DEBUG on, an
#   unset SECRET_KEY means a random key made once for this checkout and kept beside the database
#   (VAR_DIR/secret-key, mode 0600, under git-ignored var/). The demo server and every manage.py
#   command, from any shell, read the same key with nothing exported, and no key is published in
#   the source for anyone to forge sessions with. DEBUG stays off unless asked for: commands need
#   no ALLOWED_HOSTS, static files or cookies; bin/demo turns it on for the demo server.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DATABASE_URL and not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DATABASE_URL is (production); see .env.example."
        )
    SECRET_KEY = local_secret_key(VAR_DIR / "secret-key")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_rq",
    # Serves the API docs page's Swagger UI from our own static files, never a CDN.
    "ninja",
    "accounts",
    "reports",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "lib.middleware.ApiErrorShapeMiddleware",
    # Without Redis, the periodic work the scheduler would do runs before the pages needing it.
    "moderation.periodic.embedded.EmbeddedSchedulerMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "moderation.supervision.context_processors.console",
            ],
        },
    },
]

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "vigil.sqlite3",
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Jobs. Without REDIS_URL they run in-process right after the transaction commits ("eager").
REDIS_URL = os.environ.get("REDIS_URL", "")
JOBS_EAGER = not REDIS_URL
# Without Redis nothing else runs the periodic work (webhook retries, waiting time, audit sealing
# and verification, evidence purge): the serving process does, in a background thread
# (moderation/periodic/embedded.py, started by config/wsgi.py).
EMBEDDED_SCHEDULER = JOBS_EAGER
# "high" carries work for a child in immediate danger (urgent escalations): workers listen on it
# first; "links" carries the fetching of links found in reports (reports.jobs.fetch_link), which
# anyone can send by the hundred: last, so it never holds up hashing or anything else
# (`rqworker high default links`).
RQ_QUEUE_NAMES = ("high", "default", "links")
RQ_QUEUES = {
    name: {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 300}
    for name in RQ_QUEUE_NAMES
}
RQ = {"COMMIT_MODE": "on_db_commit", "WORKER_CLASS": "config.worker.VigilWorker"}

# Rate-limit counters live in Redis when there is one, so every web process shares them.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {
        # Uploaded evidence is private: no base_url, so nothing in it ever has a public URL.
        # Reviewers see media only through authenticated, audited views.
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": os.environ.get("PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private-media")),
            "base_url": None,
        },
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

# Intake limits. An image larger than MAX_UPLOAD_BYTES or with more than MAX_IMAGE_PIXELS pixels
# is refused with a clear error; so is a request body over DATA_UPLOAD_MAX_MEMORY_SIZE (the API
# carries images as base64, a third larger than the file).
MAX_UPLOAD_BYTES = env_int("VIGIL_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
MAX_IMAGE_PIXELS = env_int("VIGIL_MAX_IMAGE_PIXELS", 50_000_000)
# Videos (reports/video.py): bytes, pixels a frame (8K), seconds and frames, whatever the container
# claims; hashing stops at the last two and says so. The API carries videos as base64 too.
MAX_VIDEO_BYTES = env_int("VIGIL_MAX_VIDEO_BYTES", 100 * 1024 * 1024)
MAX_VIDEO_PIXELS = env_int("VIGIL_MAX_VIDEO_PIXELS", 7680 * 4320)
MAX_VIDEO_SECONDS = env_int("VIGIL_MAX_VIDEO_SECONDS", 3 * 3600)
MAX_VIDEO_FRAMES = env_int("VIGIL_MAX_VIDEO_FRAMES", 3 * 3600 * 60)
# vPDQ sampling: seconds of video per hashed frame (0: every frame, as the reference's output),
# and the optional pruning of frames within this PDQ distance of the last kept (0: off).
VPDQ_SECONDS_PER_HASH = env_float("VIGIL_VPDQ_SECONDS_PER_HASH", 1.0)
VPDQ_PRUNE_DISTANCE = env_int("VIGIL_VPDQ_PRUNE_DISTANCE", 0)
# Decoder threads per video (0: FFmpeg picks, one per core).
VIDEO_DECODE_THREADS = env_int("VIGIL_VIDEO_DECODE_THREADS", 0)
MAX_MEDIA_PER_REPORT = env_int("VIGIL_MAX_MEDIA_PER_REPORT", 10)
# Where the self-report page's "Exit this page" goes: an ordinary site, opened in place of ours.
QUICK_EXIT_URL = os.environ.get("VIGIL_QUICK_EXIT_URL", "https://www.bbc.co.uk/weather")
MAX_TEXT_LENGTH = 5000
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int(
    "VIGIL_MAX_REQUEST_BYTES", max(40 * 1024 * 1024, MAX_VIDEO_BYTES * 4 // 3 + 1024 * 1024)
)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# How many reverse proxies in front of Vigil append to X-Forwarded-For (0: none, use REMOTE_ADDR).
TRUSTED_PROXIES = env_int("VIGIL_TRUSTED_PROXIES", 0)
# Rate limits: reports per IP per minute on the public pages; API tokens carry their own.
PUBLIC_FORM_RATE_PER_MINUTE = env_int("VIGIL_PUBLIC_FORM_RATE_PER_MINUTE", 10)
# Hash lookups per API account per minute (each answer tells how close a hash is to a bank's).
HASH_LOOKUPS_PER_MINUTE = env_int("VIGIL_HASH_LOOKUPS_PER_MINUTE", 120)
# Index snapshots (moderation/banks/snapshot.py): files every process on a machine memory-maps, in
# a directory on local disk; taken once a signal type has this many entries, and again when the
# entries added and removed since pass this many (or 2% of the snapshot).
INDEX_DIR = Path(os.environ.get("VIGIL_INDEX_DIR") or VAR_DIR / "index")
INDEX_SNAPSHOT_MIN_ENTRIES = env_int("VIGIL_INDEX_SNAPSHOT_MIN_ENTRIES", 100_000)
INDEX_SNAPSHOT_FOLD_AT = env_int("VIGIL_INDEX_SNAPSHOT_FOLD_AT", 20_000)
# Hosts lib/safe_fetch.py may fetch from whatever they resolve to: for tests' local servers only.
# Empty in every deployment, and not read from the environment.
SAFE_FETCH_ALLOWED_HOSTS: list[str] = []
# Links in reports, flags and messages (reports/links.py): seconds one fetch may take in all
# (redirects included; a server that dribbles is cut off), and redirects followed at most.
LINK_FETCH_TIMEOUT = env_float("VIGIL_LINK_FETCH_TIMEOUT", 15.0)
LINK_FETCH_MAX_REDIRECTS = env_int("VIGIL_LINK_FETCH_MAX_REDIRECTS", 5)
# Seconds before each new attempt at a link whose server was down or overloaded (refused or
# reset connections, 5xx, 429, DNS not answering); after the last the link is marked failed.
LINK_FETCH_RETRY_INTERVALS = env_int_list("VIGIL_LINK_FETCH_RETRY_INTERVALS", [10, 60, 300])

# How long a claimed case stays with a reviewer without activity.
CASE_LEASE_SECONDS = env_int("VIGIL_CASE_LEASE_SECONDS", 15 * 60)
# Queue open counts on the dashboards are shared and recomputed at most this often (seconds).
QUEUE_COUNTS_MAX_AGE = env_int("VIGIL_QUEUE_COUNTS_MAX_AGE", 10)
# Blind re-review samples the share of decisions set in the admin (Quality settings). This switch
# turns sampling off for a whole deployment (load tests, bulk replays) without touching that share.
REREVIEW_SAMPLING = env_bool("VIGIL_REREVIEW_SAMPLING", True)

# Delivery of enforcement actions to the platform as signed webhooks (docs/webhooks.md). Without
# a URL, actions stay pending (shown as "delivery not configured") and are sent once one is set.
# The secret lives only in the environment, never in the database or the repository.
PLATFORM_WEBHOOK_URL = os.environ.get("PLATFORM_WEBHOOK_URL", "").strip()
PLATFORM_WEBHOOK_SECRET = os.environ.get("PLATFORM_WEBHOOK_SECRET", "")
PLATFORM_WEBHOOK_TIMEOUT_SECONDS = env_int("PLATFORM_WEBHOOK_TIMEOUT_SECONDS", 10)
# Seconds to wait before each retry of a delivery that failed for a passing reason (network, 5xx,
# 408, 429); after the last one it is marked failed for a supervisor to re-send.
PLATFORM_WEBHOOK_RETRY_INTERVALS = env_int_list(
    "PLATFORM_WEBHOOK_RETRY_INTERVALS", [30, 120, 600, 1800, 7200]
)
check_webhook_settings(
    url=PLATFORM_WEBHOOK_URL,
    secret=PLATFORM_WEBHOOK_SECRET,
    timeout=PLATFORM_WEBHOOK_TIMEOUT_SECONDS,
    intervals=PLATFORM_WEBHOOK_RETRY_INTERVALS,
    debug=DEBUG,
)

# E-mail to reporters who left an address (moderation/notices): that their report was received
# and, once decided, whether action was taken. Django's mail framework, configured from the
# environment. Unset EMAIL_BACKEND: the console backend on the embedded default (no DATABASE_URL:
# the demo prints each e-mail to the server's output), SMTP in production (DATABASE_URL set), so
# reporters' addresses are never written to production logs by default.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "").strip() or (
    "django.core.mail.backends.smtp.EmailBackend"
    if DATABASE_URL
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "").strip() or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "Set EMAIL_USE_TLS (STARTTLS, usually port 587) or EMAIL_USE_SSL (port 465), not both."
    )
# Seconds one SMTP conversation may take before the attempt counts as failed and is retried.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "").strip() or "no-reply@localhost"
# Seconds before each retry of a notice the mail server did not take (down, timed out, a 4xx);
# after the last one the notice is marked failed (admin: Reporter notices).
NOTICE_RETRY_INTERVALS = env_int_list("VIGIL_NOTICE_RETRY_INTERVALS", [60, 300, 1800, 7200])
# Where the public reaches Vigil (https://report.example.org): e-mails to reporters link to the
# status page there. Unset: the demo's address on the embedded default, no link in production.
PUBLIC_URL = (
    os.environ.get("VIGIL_PUBLIC_URL", "").strip()
    or ("" if DATABASE_URL else "http://127.0.0.1:8000")
).rstrip("/")

# Wellness: a shift is the rolling window of the last WELLNESS_SHIFT_HOURS hours; at
# WELLNESS_EXPOSURE_CAP exposures in it (media reveals + decisions in sensitive queues) the
# console suggests a break (0 turns the suggestion off).
WELLNESS_SHIFT_HOURS = env_int("VIGIL_SHIFT_HOURS", 8)
WELLNESS_EXPOSURE_CAP = env_int("VIGIL_EXPOSURE_CAP", 60)

# EU DSA statements of reasons (moderation/dsa/selectors.py): the member states a restriction applies in
# (ISO 3166 codes as the Transparency Database takes them; the EU's 27 by default), and the
# public URL of the terms the platform's decisions rely on (optional).
DSA_EU_MEMBER_STATES = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
]
DSA_TERRITORIAL_SCOPE = [
    code.strip().upper()
    for code in os.environ.get("VIGIL_DSA_TERRITORIAL_SCOPE", " ".join(DSA_EU_MEMBER_STATES))
    .replace(",", " ")
    .split()
]
DSA_TERMS_URL = os.environ.get("VIGIL_DSA_TERMS_URL", "").strip()

# The research export publishes only groups of at least this many cases (docs/transparency.md).
VIGIL_RESEARCH_MIN_GROUP = env_int("VIGIL_RESEARCH_MIN_GROUP", 10)

# After an audit-writing commit a process seals the audit hash chain at most this often
# (milliseconds; moderation/audit/chain.py): under load one sealing takes many requests' events.
# What waits is sealed by a later commit or the periodic job (every 5 minutes). 0: every commit.
AUDIT_SEAL_INTERVAL_MS = max(0, env_int("VIGIL_AUDIT_SEAL_INTERVAL_MS", 250))

# Processes that verify the audit hash chain on PostgreSQL (moderation/audit/chain_verify.py): the
# daily job's and verify_audit_log's default. Unless set: one per CPU this process may use, at most
# 4 (each holds a database connection and ~110 MB); 1 verifies in-process.
AUDIT_VERIFY_WORKERS = max(
    1, env_int("VIGIL_AUDIT_VERIFY_WORKERS", min(4, len(os.sched_getaffinity(0))))
)

# Evidence behind a report to an authority is kept at least a year after submission
# (18 U.S.C. 2258A(h) as amended in 2024); a longer period may be set, never a shorter one.
EVIDENCE_PRESERVATION_DAYS = max(365, env_int("VIGIL_EVIDENCE_PRESERVATION_DAYS", 365))

# Who Vigil reports as, to the CyberTipline (docs/cybertipline.md): the platform's name and the
# person at the platform the authority may contact (never an end user who reported content).
VIGIL_PLATFORM_NAME = os.environ.get("VIGIL_PLATFORM_NAME", "").strip() or "Vigil demo platform"
VIGIL_REPORTER_FIRST_NAME = os.environ.get("VIGIL_REPORTER_FIRST_NAME", "").strip() or "Trust"
VIGIL_REPORTER_LAST_NAME = os.environ.get("VIGIL_REPORTER_LAST_NAME", "").strip() or "and Safety"
VIGIL_REPORTER_EMAIL = (
    os.environ.get("VIGIL_REPORTER_EMAIL", "").strip() or "trust-and-safety@example.com"
)
# Submission through the CyberTipline's API. With the URL or credentials unset, submission is by
# download: a supervisor submits the packet by hand and records the report id.
CYBERTIP_API_URL = os.environ.get("CYBERTIP_API_URL", "").strip().rstrip("/")
CYBERTIP_USERNAME = os.environ.get("CYBERTIP_USERNAME", "")
CYBERTIP_PASSWORD = os.environ.get("CYBERTIP_PASSWORD", "")
CYBERTIP_TIMEOUT_SECONDS = env_int("CYBERTIP_TIMEOUT_SECONDS", 60)
# Seconds before each retry of a step that failed for a passing reason (5xx, timeout, refused).
CYBERTIP_RETRY_INTERVALS = env_int_list("CYBERTIP_RETRY_INTERVALS", [30, 120, 600, 1800])

# Messages can carry a new API token once: keep them server-side, never in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
