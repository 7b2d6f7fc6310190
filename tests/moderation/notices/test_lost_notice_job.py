"""A notice whose job was lost (the server stopped before it ran; Redis lost it) is still sent:
by the embedded server's background pass, or by the relay loop with Redis."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from moderation.periodic.embedded import BackgroundScheduler
from reports.models import ReporterIdentity, ReporterNotice


@pytest.fixture
def lost_notice(submit_report):
    """A received notice left pending, its job gone, due ten minutes ago."""
    report = submit_report(reporter_email="lou@mail.example")
    ReporterIdentity.objects.filter(report=report).update(notify=True)
    return ReporterNotice.objects.create(
        report=report, kind="received", next_attempt_at=timezone.now() - timedelta(minutes=10)
    )


@pytest.mark.django_db
def test_the_embedded_background_pass_sends_it(lost_notice, mailoutbox):
    if not settings.JOBS_EAGER:
        pytest.skip("the embedded mode's background thread; with Redis the relay loop does it")
    BackgroundScheduler(now=0.0).run_due(0.0)
    assert [m.to for m in mailoutbox] == [["lou@mail.example"]]
    assert ReporterNotice.objects.get().status == "sent"


@pytest.mark.django_db
def test_the_relay_loop_queues_it_again(lost_notice, mailoutbox):
    if settings.JOBS_EAGER:
        pytest.skip("needs Redis: the relay loop exists only there")
    from rq import SimpleWorker

    from lib.jobs import get_queue

    # (The test's transaction never commits: run the relay's on-commit hand-over here.)
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("relay_outbox", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
    queue = get_queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert [m.to for m in mailoutbox] == [["lou@mail.example"]]
    assert ReporterNotice.objects.get().status == "sent"
