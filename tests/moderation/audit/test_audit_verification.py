"""The recorded audit chain verification: the daily job's run, a supervisor's "verify now", and
what /audit/ shows."""

from datetime import UTC, datetime

import pytest

from moderation.audit.chain import audit_seal
from moderation.audit.models import AuditEvent, AuditVerification
from moderation.audit.verification import audit_verification_run
from moderation.periodic import services as periodic
from tests.moderation.audit.test_audit_chain import raw_update, record
from tests.moderation.periodic.test_periodic_refresh import rq_redis, scheduled_ids  # noqa: F401
from tests.rqworker import needs_real_worker, run_burst_worker

pytestmark = pytest.mark.django_db


def test_it_seals_verifies_and_stores_the_result():
    record(3)
    v = audit_verification_run()
    assert v.ok is True and v.events_checked == 3 and v.last_seq == 3 and v.finished_at
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()


def test_it_stores_a_failure_naming_the_event():
    events = record(3)
    audit_seal()
    raw_update("UPDATE moderation_auditevent SET ip = %s WHERE id = %s", ["10.0.0.9", events[1].pk])
    v = audit_verification_run()
    assert v.ok is False and v.first_bad_id == events[1].pk and v.first_bad_seq == 2
    assert "content hash mismatch" in v.message


def test_the_next_run_notices_events_cut_off_the_end():
    events = record(3)
    assert audit_verification_run().ok
    raw_update("DELETE FROM moderation_auditevent WHERE id = %s", [events[2].pk])
    v = audit_verification_run()
    assert v.ok is False and "1 newest event is missing" in v.message


def test_a_supervisor_verifies_now_and_sees_the_result(client, supervisor, run_jobs):
    record(2)
    client.force_login(supervisor)
    page = client.get("/audit/")
    assert "not verified yet" in page.content.decode()
    with run_jobs():
        r = client.post("/audit/verify/")
    assert r.status_code == 302 and r.url == "/audit/"
    v = AuditVerification.objects.get()
    assert v.requested_by == supervisor and v.ok is True
    # Asked for on the record, like any supervisor action.
    assert AuditEvent.objects.filter(
        verb="audit.verification_requested", actor=supervisor, object_id=str(v.pk)
    ).exists()
    page = client.get("/audit/").content.decode()
    assert "Hash chain intact" in page and f"{v.events_checked} events verified" in page


def test_a_failed_verification_is_shown_as_an_alert(client, supervisor):
    AuditVerification.objects.create(
        ok=False, first_bad_id=77, first_bad_seq=5, message="content hash mismatch: event id 77"
    )
    client.force_login(supervisor)
    page = client.get("/audit/").content.decode()
    assert 'role="alert"' in page and "at event id 77" in page and "(seq 5)" in page


def test_verify_now_is_post_only(client, supervisor):
    client.force_login(supervisor)
    assert client.get("/audit/verify/").status_code == 405
    assert not AuditVerification.objects.exists()


class TestDailySchedule:
    def test_each_periodic_run_schedules_one_verification_a_day_and_seals(self, rq_redis):  # noqa: F811
        record(2)
        periodic.waiting_refresh_run()
        periodic.waiting_refresh_run()
        ids = [i for i in scheduled_ids() if i.startswith(periodic.VERIFY_JOB_PREFIX)]
        assert len(ids) == 1
        day = int(ids[0].removeprefix(periodic.VERIFY_JOB_PREFIX))
        at = datetime.fromtimestamp(
            day * periodic.DAY_SECONDS + periodic.VERIFY_HOUR_UTC * 3600, UTC
        )
        assert at.hour == periodic.VERIFY_HOUR_UTC and at > datetime.now(UTC)
        # Stragglers are sealed by the periodic run.
        assert not AuditEvent.objects.filter(seq__isnull=True).exists()

    def test_the_job_records_a_verification(self):
        from moderation.audit.jobs import verify_audit_log

        record(1)
        verify_audit_log()
        assert AuditVerification.objects.get().ok is True

    def test_there_is_no_scheduler_in_the_embedded_mode(self, settings):
        settings.JOBS_EAGER = True
        assert periodic.audit_verify_schedule() is None


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_rqworker_verifies_in_worker_processes(client, supervisor):
    # The job runs in RQ's forked work horse, which starts its own verifying processes.
    events = record(30)
    client.force_login(supervisor)
    client.post("/audit/verify/")
    v = AuditVerification.objects.get()
    assert v.finished_at is None  # queued in Redis, not run here
    worker = run_burst_worker(VIGIL_AUDIT_VERIFY_WORKERS="2")
    assert "chain intact (2 processes" in worker.stderr, worker.stderr
    v.refresh_from_db()
    # The request's own audit event was sealed into the chain before the check.
    assert v.ok is True and v.events_checked == len(events) + 1 and v.last_seq == len(events) + 1
