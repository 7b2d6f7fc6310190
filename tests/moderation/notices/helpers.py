"""Helpers for reporter-notice tests: pointing Django's mail at a local SMTP port, and running
jobs and the retry schedule the way production does."""

import time

from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from reports.models import ReporterNotice

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def smtp_at(settings, port: int) -> None:
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2


def work_jobs() -> None:
    """With Redis, a real RQ worker works the queue until it is empty (in-process jobs have run
    already in the embedded mode)."""
    if django_settings.JOBS_EAGER:
        return
    from rq import SimpleWorker

    from lib.jobs import get_queue

    queue = get_queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def drive_notices(*, timeout: float = 20.0) -> None:
    """Let the retry schedule run out: until no notice is pending.

    Embedded mode: time passes (due dates are moved to now) and `manage.py send_notices --once`
    runs, as the server's background thread would. With Redis: a real RQ worker with its
    scheduler works the queue in bursts while the real intervals elapse.
    """
    pending = ReporterNotice.objects.filter(status=ReporterNotice.Status.PENDING)
    deadline = time.monotonic() + timeout
    while pending.exists():
        assert time.monotonic() < deadline, "notices still pending after the whole schedule"
        if django_settings.JOBS_EAGER:
            pending.update(next_attempt_at=timezone.now())
            call_command("send_notices", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
        else:
            from rq import SimpleWorker

            from lib.jobs import get_queue

            queue = get_queue()
            SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=True)
            time.sleep(0.3)
