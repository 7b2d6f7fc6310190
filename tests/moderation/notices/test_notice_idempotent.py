"""A notice is sent once: a job run twice, a copy of the job ahead of its retry, or a worker that
dies halfway through sending leave one e-mail, not two."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from moderation.notices.jobs import send_reporter_notice
from moderation.notices.services import notices_sweep
from reports.models import ReporterIdentity, ReporterNotice


@pytest.mark.django_db
class TestSentOnce:
    def test_a_job_run_twice_sends_once(self, report_with_email, mailoutbox):
        report_with_email()
        notice = ReporterNotice.objects.get()
        assert send_reporter_notice(notice.pk) is None
        assert len(mailoutbox) == 1
        assert ReporterNotice.objects.get().attempts == 1

    def test_a_copy_of_the_job_ahead_of_the_retry_does_nothing(
        self, report_with_email, mail_server_down, mailoutbox, settings
    ):
        settings.NOTICE_RETRY_INTERVALS = [600, 600]
        report_with_email()
        notice = ReporterNotice.objects.get()
        assert notice.status == "pending" and notice.next_attempt_at > timezone.now()
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        send_reporter_notice(notice.pk)  # e.g. handed over again by the relay
        assert mailoutbox == [] and ReporterNotice.objects.get().attempts == 1
        ReporterNotice.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        send_reporter_notice(notice.pk)
        assert len(mailoutbox) == 1 and ReporterNotice.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_dies_mid_send_leaves_it_for_one_retry(submit_report, mailoutbox):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite lets one writer in at a time")
    report = submit_report(reporter_email="kit@mail.example")
    ReporterIdentity.objects.filter(report=report).update(notify=True)
    notice = ReporterNotice.objects.create(
        report=report, kind="received", next_attempt_at=timezone.now()
    )
    holding, dying = threading.Event(), threading.Event()

    def worker_sending():
        # A worker in the middle of sending: the notice's row locked, its transaction open.
        try:
            with transaction.atomic():
                ReporterNotice.objects.select_for_update().get(pk=notice.pk)
                holding.set()
                dying.wait(10)
                raise RuntimeError("killed")  # nothing it did is committed
        except RuntimeError:
            pass
        finally:
            connections.close_all()

    worker = threading.Thread(target=worker_sending)
    worker.start()
    assert holding.wait(10)
    # Another worker (a copy of the job, the sweep) skips it rather than send it a second time.
    assert send_reporter_notice(notice.pk) is None
    assert mailoutbox == []
    dying.set()
    worker.join(10)
    notice.refresh_from_db()
    assert notice.status == "pending" and notice.attempts == 0
    # The retry finds it as the dead worker found it, and sends it once.
    if settings.JOBS_EAGER:
        assert notices_sweep() == 1
    else:
        send_reporter_notice(notice.pk)
    assert [m.to for m in mailoutbox] == [["kit@mail.example"]]
    assert ReporterNotice.objects.get().status == "sent"
