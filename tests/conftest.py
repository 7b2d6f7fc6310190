"""Shared fixtures. The suite runs on whatever DATABASE_URL / REDIS_URL point at: SQLite with
in-process jobs when unset, the real PostgreSQL and Redis (with real RQ workers) when set."""

import io
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.utils import timezone
from PIL import Image

from accounts.models import QueueCertification, User
from accounts.roles import Role
from moderation.audit.append_only import ALLOW_DELETE
from moderation.cases.models import Queue
from tests.intake import intake_fields
from tests.process_state import forget_process_state

# The platform's webhook endpoint as a local HTTP server, and helpers to decide and deliver.
pytest_plugins = [
    "tests.moderation.webhook_receiver",
    "tests.moderation.dsa_fixtures",
    "tests.moderation.transparency_fixtures",
    "tests.moderation.escalation_fixtures",
]


@receiver(connection_created)
def allow_audit_truncate(sender, connection, **kwargs):
    """PostgreSQL refuses TRUNCATE of the audit log (moderation/migrations/0029) unless the
    session allows it; transactional tests empty every table with TRUNCATE when they end."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET vigil.allow_audit_truncate = on")


@pytest.fixture(autouse=True, scope="session")
def sqlite_flush_may_delete_audit_events():
    """SQLite refuses every DELETE of an audit event (moderation/migrations/0031) unless the
    connection allows it, and empties tables with DELETE: transactional tests flush every table
    when they end. Allowed for the flush only, so a test's own delete is refused as in production."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    operations = DatabaseWrapper.ops_class
    flush = operations.execute_sql_flush

    def flush_audit_too(self, sql_list):
        setattr(self.connection, ALLOW_DELETE, True)
        try:
            return flush(self, sql_list)
        finally:
            setattr(self.connection, ALLOW_DELETE, False)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(operations, "execute_sql_flush", flush_audit_too)
        yield


def pytest_sessionstart(session):
    # A configured service that does not answer is a failure, never a silent skip.
    if settings.REDIS_URL:
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as e:
            pytest.exit(f"REDIS_URL is set but Redis does not answer: {e}", returncode=3)


def pytest_collection_modifyitems(items):
    """Transactional tests (live server, real workers, row locking) flush every table when they
    end, which would also remove what data migrations created (roles, built-in queues). Restore
    that data for them from the snapshot pytest-django takes after migrating."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        transactional = "live_server" in item.fixturenames or (
            marker is not None and marker.kwargs.get("transaction")
        )
        if transactional:
            item.add_marker(
                pytest.mark.django_db(transaction=True, serialized_rollback=True), append=False
            )


@pytest.fixture(autouse=True)
def no_network_beyond_this_machine(monkeypatch):
    """Names outside this machine do not resolve in tests: a link in a report is fetched by a job
    (reports/links.py), and the suite must not reach, or wait for, the internet. Local servers,
    addresses and the test-only allow-list resolve as usual; a test may resolve names its own way
    (monkeypatch.setattr after this)."""
    import ipaddress
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        local = name in (None, "localhost") or name in settings.SAFE_FETCH_ALLOWED_HOSTS
        try:
            ipaddress.ip_address(name or "")
            local = True
        except ValueError:
            pass
        if not local:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: no network beyond this machine")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Each test gets its own private media directory."""
    root = tmp_path / "private-media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


@pytest.fixture(autouse=True, scope="session")
def index_snapshot_files():
    """Index snapshot files the run wrote (config/test_settings.py: a directory of its own) go
    with it."""
    import shutil

    yield
    shutil.rmtree(settings.INDEX_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def empty_cache():
    """Nothing a test left in the cache or in memory reaches the next."""
    forget_process_state()


@pytest.fixture(autouse=True)
def empty_job_queue():
    """Jobs left in Redis by one test must not run in the next."""
    if settings.JOBS_EAGER:
        yield
        return
    from lib.jobs import get_queue

    connection = get_queue().connection
    connection.flushdb()
    yield
    connection.flushdb()


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run everything enqueued inside the block, the way production would.

    Usage: `with run_jobs(): ...`. On-commit callbacks hand jobs over (in-process in the embedded
    mode, to Redis otherwise); with Redis, a real RQ worker then works the queue until it is empty.
    """
    from contextlib import contextmanager

    @contextmanager
    def runner():
        with django_capture_on_commit_callbacks(execute=True):
            yield
        if not settings.JOBS_EAGER:
            from rq import SimpleWorker

            from lib.jobs import get_queue

            # In priority order, as the README's workers listen: high, default, links.
            queues = [get_queue(name) for name in settings.RQ_QUEUE_NAMES]
            SimpleWorker(queues, connection=queues[0].connection).work(burst=True)

    return runner


def png_bytes(colour=(200, 80, 40), size=(64, 48), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def png_upload():
    """A checked image, as the intake services take them."""
    from reports.media import inspect_image

    def make(name="photo.png", colour=(200, 80, 40)):
        return inspect_image(png_bytes(colour), filename=name)

    return make


@pytest.fixture
def make_user(db):
    """A user in a role, certified for the given queues (all active queues by default)."""

    def make(username, role: Role | None = Role.REVIEWER, queues=None, password="pw-for-tests"):
        user = User.objects.create_user(username=username, password=password)
        if role is not None:
            user.groups.add(Group.objects.get(name=role.value))
        now = timezone.now()
        for queue in Queue.objects.all() if queues is None else queues:
            QueueCertification.objects.create(
                user=user, queue=queue, granted_at=now, expires_at=now + timedelta(days=30)
            )
        return user

    return make


@pytest.fixture
def reviewer(make_user):
    return make_user("rita", Role.REVIEWER)


@pytest.fixture
def supervisor(make_user):
    return make_user("sam", Role.SUPERVISOR)


@pytest.fixture
def admin_user(make_user):
    """A member of the admin role with access to the Django admin (not a superuser)."""
    user = make_user("ada", Role.ADMIN)
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def submit_report(db):
    """Submit a report through the intake service, with sensible defaults."""
    from reports.models import Report
    from reports.services import report_submit

    counter = iter(range(1, 10_000))

    def submit(**overrides):
        fields = {
            "category": "harassment",
            "content_url": f"https://social.example/p/{next(counter)}",
            "reporter_kind": Report.ReporterKind.PUBLIC,
            "source": Report.Source.FORM,
        }
        fields.update(overrides)
        return report_submit(**intake_fields(**fields))

    return submit
