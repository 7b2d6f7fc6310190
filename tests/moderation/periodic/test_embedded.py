"""The embedded mode's in-process scheduling: before the pages that need it, only for a request
those pages would serve; and on the clock, in the serving process's background thread, the rest of
the periodic work (webhook retries, waiting time, audit sealing and verification, evidence purge),
so nothing needs cron."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.utils import timezone

from moderation.audit.models import AuditEvent, AuditVerification
from moderation.audit.services import audit_record
from moderation.enforcement.models import WebhookDelivery
from moderation.escalations.models import Escalation
from moderation.periodic import embedded as scheduling
from moderation.periodic.embedded import (
    BACKGROUND,
    BackgroundScheduler,
    Every,
    audit_verification_if_due,
)
from tests.moderation.custody_helpers import make_escalation
from tests.moderation.periodic.test_periodic_refresh import make_stale

WAITING, SWEEP, HOURS = "vigil:waiting-refresh", "vigil:assembly-sweep", "vigil:queue-hours-refresh"


@pytest.fixture(autouse=True)
def embedded(settings):
    settings.JOBS_EAGER = True
    cache.delete_many([WAITING, SWEEP, HOURS])


def ran(*keys) -> list[bool]:
    return [cache.get(k) is not None for k in keys]


@pytest.mark.django_db
class TestEmbeddedScheduler:
    def test_review_next_brings_waiting_time_up_to_date_first(self, client, reviewer):
        client.force_login(reviewer)
        client.post("/review/next/")
        assert ran(WAITING, SWEEP) == [True, True]

    def test_the_escalation_list_sweeps_stalled_assemblies(self, client, reviewer):
        client.force_login(reviewer)
        client.get("/escalations/")
        assert ran(WAITING, SWEEP) == [False, True]

    def test_queue_health_rebuilds_its_recent_hours(self, client, supervisor):
        client.force_login(supervisor)
        client.get("/supervise/queues/")
        assert ran(HOURS) == [True]

    def test_someone_the_page_refuses_sets_nothing_going(self, client, django_user_model):
        nobody = django_user_model.objects.create_user("nobody", password="x")
        client.force_login(nobody)
        assert client.get("/review/next/").status_code in (403, 405)
        assert client.get("/escalations/").status_code == 403
        assert client.get("/supervise/queues/").status_code == 403
        assert ran(WAITING, SWEEP, HOURS) == [False, False, False]

    def test_a_method_the_page_refuses_sets_nothing_going(self, client, reviewer):
        client.force_login(reviewer)
        assert client.get("/review/next/").status_code == 405
        assert ran(WAITING, SWEEP) == [False, False]

    def test_with_redis_the_periodic_chain_does_it_instead(self, client, reviewer, settings):
        settings.JOBS_EAGER = False
        client.force_login(reviewer)
        client.get("/escalations/")
        assert ran(SWEEP) == [False]


# The background thread: the periodic work no page waits for, on the clock, without cron.

KINDS = {
    "webhook deliveries due": 15,
    "reporter notices due": 15,
    "periodic run": 300,
    "evidence purge": 86400,
    "audit verification": 3600,
}


def recorders(calls: list, fail: str | None = None):

    def work(name):
        def run():
            calls.append(name)
            if name == fail:
                raise RuntimeError("boom")

        return run

    return [Every(task.name, task.seconds, work(task.name)) for task in BACKGROUND]


class TestBackgroundScheduler:
    def test_it_runs_every_kind_of_work_at_its_own_interval(self):
        assert {task.name: task.seconds for task in BACKGROUND} == KINDS
        calls = []
        scheduler = BackgroundScheduler(recorders(calls), now=0.0)
        assert scheduler.run_due(0.0) == list(KINDS)
        assert scheduler.run_due(14.0) == []
        assert scheduler.seconds_to_next(14.0) == 1.0
        every_15s = ["webhook deliveries due", "reporter notices due"]
        assert scheduler.run_due(15.0) == every_15s
        assert scheduler.run_due(300.0) == [*every_15s, "periodic run"]
        assert "audit verification" in scheduler.run_due(3600.0)
        assert "evidence purge" in scheduler.run_due(86400.0)

    def test_the_first_pass_waits_for_the_server_to_answer_first(self):
        scheduler = BackgroundScheduler(recorders([]), now=100.0, first_pass_delay=5.0)
        assert scheduler.seconds_to_next(100.0) == 5.0
        assert scheduler.run_due(104.0) == []

    def test_a_failing_kind_is_logged_and_the_others_go_on(self, caplog):
        calls = []
        scheduler = BackgroundScheduler(recorders(calls, fail="periodic run"), now=0.0)
        assert scheduler.run_due(0.0) == list(KINDS)
        assert calls == list(KINDS)
        assert "periodic run failed" in caplog.text
        # Tried again at its next time, not at once.
        assert scheduler.run_due(1.0) == []


@pytest.mark.django_db
class TestBackgroundWork:
    def test_one_pass_does_all_of_the_periodic_work(
        self, platform, decide, make_user, submit_report, png_upload
    ):
        # A delivery the platform did not take the first time, now due again.
        platform.statuses = [503, 200]
        decide("remove")
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending"
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        # An open case whose waiting time is hours out of date.
        case = submit_report(category="spam").case
        make_stale(case)
        # Evidence whose preservation has ended.
        report = submit_report(category="harassment", images=[png_upload()])
        escalation = make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)
        Escalation.objects.filter(pk=escalation.pk).update(
            preserve_until=datetime.now(UTC) - timedelta(days=1)
        )
        # An audit event left unsealed (its after-commit sealing never ran).
        audit_record(verb="test.unsealed", obj=case)
        assert AuditEvent.objects.filter(seq__isnull=True).exists()
        assert not AuditVerification.objects.exists()

        BackgroundScheduler(now=0.0).run_due(0.0)

        delivery.refresh_from_db()
        assert delivery.status == "delivered"
        case.refresh_from_db()
        assert {"label": "waiting 5 h", "points": 25} in case.priority_breakdown
        escalation.refresh_from_db()
        assert escalation.evidence_deleted_at is not None
        assert not default_storage.exists(escalation.packet.name)
        assert not AuditEvent.objects.filter(seq__isnull=True).exists()
        verification = AuditVerification.objects.get()
        assert verification.ok is True and verification.finished_at is not None

    def test_the_chain_is_verified_once_a_day_however_often_the_server_restarts(self, supervisor):
        assert audit_verification_if_due() is not None
        assert audit_verification_if_due() is None
        AuditVerification.objects.update(created_at=timezone.now() - timedelta(days=1, minutes=1))
        assert audit_verification_if_due() is not None
        # A supervisor's "verify now" counts too.
        AuditVerification.objects.update(created_at=timezone.now() - timedelta(days=2))
        AuditVerification.objects.create(requested_by=supervisor)
        assert audit_verification_if_due() is None


class TestBackgroundThread:
    @pytest.fixture
    def started(self, monkeypatch, settings):
        """A process where no scheduler was started yet; stops what the test starts."""
        monkeypatch.setattr(scheduling, "_background", None)
        monkeypatch.setattr(scheduling, "FIRST_PASS_DELAY", 0.0)
        settings.EMBEDDED_SCHEDULER = True
        started = []
        yield started
        for background in started:
            background.stop.set()
            background.thread.join(timeout=5)

    def test_the_serving_process_starts_it_once(self, started):
        ran = threading.Event()
        background = scheduling.background_start((Every("probe", 60, ran.set),))
        started.append(background)
        assert ran.wait(5), "the background thread never ran its work"
        assert background.thread.daemon and background.thread.is_alive()
        assert scheduling.background_start((Every("probe", 60, ran.set),)) is background

    def test_not_with_redis_nor_where_settings_turn_it_off(self, started, settings):
        settings.JOBS_EAGER = False
        assert scheduling.background_start(()) is None
        settings.JOBS_EAGER = True
        settings.EMBEDDED_SCHEDULER = False
        assert scheduling.background_start(()) is None
