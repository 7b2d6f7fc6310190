"""Submitting an escalation through the CyberTipline API, against a local fake CyberTipline:
the whole workflow, resuming, refusals, server errors and timeouts, and never twice."""

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from lxml import etree

from accounts.roles import Role
from moderation.audit.services import AuditEvent
from moderation.escalations import submission
from moderation.escalations.models import Escalation, SubmissionAttempt
from moderation.escalations.packet import packet_report_xml
from moderation.escalations.services import (
    EscalationStateError,
    escalation_mark_submitted,
    escalation_withdraw,
)
from tests.moderation import cybertip_server
from tests.moderation.cybertip_fixtures import escalation_factory

S = Escalation.Status


@pytest.fixture
def make_escalation(db, make_user, submit_report, png_upload):
    return escalation_factory(make_user, submit_report, png_upload)


@pytest.fixture
def fake_cybertip(settings):
    server = cybertip_server.FakeCyberTipline(slow_seconds=2.5)
    httpd = cybertip_server.start(server)
    settings.CYBERTIP_API_URL = server.url
    settings.CYBERTIP_USERNAME = cybertip_server.USERNAME
    settings.CYBERTIP_PASSWORD = cybertip_server.PASSWORD
    settings.CYBERTIP_TIMEOUT_SECONDS = 1
    settings.CYBERTIP_RETRY_INTERVALS = [0, 0]
    yield server
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def boss(make_user):
    return make_user("sue", Role.SUPERVISOR)


def start(escalation, user) -> None:
    """Start a submission without running its job (the test drives the runs)."""
    submission.escalation_submit(escalation_id=escalation.pk, user=user)


def steps(escalation) -> list[tuple[str, str]]:
    return list(
        SubmissionAttempt.objects.filter(escalation=escalation)
        .order_by("number")
        .values_list("step", "outcome")
    )


@pytest.mark.django_db
class TestSubmission:
    def test_it_submits_the_whole_report_and_marks_it_submitted(
        self, make_escalation, fake_cybertip, boss, run_jobs
    ):
        escalation = make_escalation([{"platform_id": "a"}, {"platform_id": "b"}])
        with run_jobs():
            submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        escalation.refresh_from_db()
        assert escalation.status == S.SUBMITTED, escalation.failure_reason
        assert escalation.submitted_via == "api"
        assert escalation.submission_started_at is None
        [report_id] = fake_cybertip.finished_reports()
        assert escalation.report_id == report_id
        assert steps(escalation) == [
            ("open", "ok"),
            ("upload", "ok"),
            ("file_details", "ok"),
            ("upload", "ok"),
            ("file_details", "ok"),
            ("finish", "ok"),
        ]
        numbers = list(escalation.submission_attempts.values_list("number", flat=True))
        assert sorted(numbers) == [1, 2, 3, 4, 5, 6]
        remote = fake_cybertip.reports[report_id]
        for f in escalation.files.all():
            assert f.remote_file_id in remote.files and f.details_sent_at is not None
            sent = remote.files[f.remote_file_id]
            with default_storage.open(f.media.file.name, "rb") as stored:
                assert sent["data"] == stored.read()
            details = etree.fromstring(sent["details"])
            assert details.findtext("reportId") == str(report_id)
            assert details.findtext("fileId") == f.remote_file_id
        opened = AuditEvent.objects.get(verb="escalation.report_opened")
        assert opened.after["report_id"] == report_id
        assert opened.after["report_xml_sha256"] == hashlib.sha256(remote.report_xml).hexdigest()
        verbs = list(
            AuditEvent.objects.filter(object_id=str(escalation.pk))
            .order_by("pk")
            .values_list("verb", flat=True)
        )
        assert verbs[-3:] == [
            "escalation.submission_started",
            "escalation.report_opened",
            "escalation.submitted",
        ]

    def test_a_second_run_after_submission_sends_nothing(
        self, make_escalation, fake_cybertip, boss
    ):
        escalation = make_escalation()
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "submitted"
        before = len(fake_cybertip.requests)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "skipped"
        assert len(fake_cybertip.requests) == before
        assert fake_cybertip.calls("finish") == 1

    def test_a_run_while_another_worker_holds_it_does_nothing(
        self, make_escalation, fake_cybertip, boss
    ):
        escalation = make_escalation()
        start(escalation, boss)
        assert submission._claim(escalation.pk) is not None  # another worker, mid-way
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "skipped"
        assert fake_cybertip.requests == []

    def test_a_refused_report_fails_with_the_authoritys_words_and_no_retry(
        self, make_escalation, fake_cybertip, boss
    ):
        fake_cybertip.script["submit"] = ["invalid"]
        escalation = make_escalation()
        start(escalation, boss)
        result = submission.submission_run(escalation_id=escalation.pk)
        assert result.outcome == "failed" and result.retry_in is None
        escalation.refresh_from_db()
        assert escalation.status == S.FAILED
        assert "Validation failed: scripted by the test" in escalation.failure_reason
        assert escalation.report_id is None and escalation.submission_started_at is None
        assert steps(escalation) == [("open", "failed")]
        assert fake_cybertip.calls("submit") == 1

    def test_wrong_credentials_fail_without_retry(
        self, make_escalation, fake_cybertip, boss, settings
    ):
        settings.CYBERTIP_PASSWORD = "wrong"
        escalation = make_escalation()
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "failed"
        attempt = escalation.submission_attempts.get()
        assert attempt.http_status == 401 and attempt.outcome == "failed"

    def test_a_server_error_is_retried_and_the_submission_resumes_where_it_stopped(
        self, make_escalation, fake_cybertip, boss
    ):
        fake_cybertip.script["upload"] = ["500"]
        escalation = make_escalation()
        start(escalation, boss)
        first = submission.submission_run(escalation_id=escalation.pk)
        assert first.outcome == "retry" and first.retry_in == 0
        escalation.refresh_from_db()
        assert escalation.status == S.READY and escalation.report_id is not None
        assert steps(escalation) == [("open", "ok"), ("upload", "retry")]
        assert escalation.submission_attempts.get(step="upload").http_status == 500
        second = submission.submission_run(escalation_id=escalation.pk)
        assert second.outcome == "submitted"
        assert fake_cybertip.calls("submit") == 1  # the saved report was used, not a new one
        assert fake_cybertip.finished_reports() == [escalation.report_id]
        assert steps(escalation)[2:] == [("upload", "ok"), ("file_details", "ok"), ("finish", "ok")]

    def test_a_timeout_is_retried(self, make_escalation, fake_cybertip, boss):
        fake_cybertip.script["fileinfo"] = ["slow"]
        escalation = make_escalation()
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "retry"
        timed_out = escalation.submission_attempts.get(step="file_details", outcome="retry")
        assert timed_out.http_status is None and "No answer within 1 seconds" in timed_out.error
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "submitted"

    def test_after_the_last_retry_it_fails_with_the_reason(
        self, make_escalation, fake_cybertip, boss
    ):
        fake_cybertip.script["finish"] = ["503", "503", "503", "503"]
        escalation = make_escalation()
        start(escalation, boss)
        outcomes = [
            submission.submission_run(escalation_id=escalation.pk).outcome for _ in range(4)
        ]
        assert outcomes == ["retry", "retry", "failed", "skipped"]
        escalation.refresh_from_db()
        assert escalation.status == S.FAILED
        assert "HTTP 503" in escalation.failure_reason
        assert [s for s in steps(escalation) if s[0] == "finish"] == [
            ("finish", "retry"),
            ("finish", "retry"),
            ("finish", "failed"),
        ]
        assert fake_cybertip.finished_reports() == []

    def test_a_refused_connection_is_retried(self, make_escalation, fake_cybertip, boss, settings):
        settings.CYBERTIP_API_URL = "http://127.0.0.1:9/ispws"  # discard port: nobody listens
        escalation = make_escalation()
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "retry"
        attempt = escalation.submission_attempts.get()
        assert attempt.http_status is None and "Could not reach" in attempt.error

    def test_without_a_worker_a_passing_failure_fails_and_a_supervisor_resumes_it(
        self, make_escalation, fake_cybertip, boss
    ):
        fake_cybertip.script["upload"] = ["500"]
        escalation = make_escalation()
        start(escalation, boss)
        # Nothing can wait for a retry (embedded mode): it fails at once, for a person to resume.
        result = submission.submission_run(escalation_id=escalation.pk, can_retry=False)
        assert result.outcome == "failed"
        escalation.refresh_from_db()
        assert escalation.status == S.FAILED and "submit again" in escalation.failure_reason
        report_id = escalation.report_id
        assert submission.can_submit_again(escalation)
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "submitted"
        escalation.refresh_from_db()
        assert escalation.status == S.SUBMITTED and escalation.report_id == report_id
        assert fake_cybertip.calls("submit") == 1
        assert AuditEvent.objects.filter(verb="escalation.submission_failed").count() == 1

    @pytest.mark.skipif(not settings.JOBS_EAGER, reason="the embedded mode's in-process job")
    def test_in_process_the_job_fails_rather_than_waiting(
        self, make_escalation, fake_cybertip, boss, run_jobs
    ):
        fake_cybertip.script["submit"] = ["500"]
        escalation = make_escalation()
        with run_jobs():
            submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        escalation.refresh_from_db()
        assert escalation.status == S.FAILED and "HTTP 500" in escalation.failure_reason

    def test_it_sends_the_approved_packets_report_byte_for_byte(
        self, make_escalation, fake_cybertip, boss
    ):
        escalation = make_escalation()
        # Edited after assembly (it cannot be through Vigil): the packet's copy is what goes.
        Escalation.objects.filter(pk=escalation.pk).update(incident_summary="changed later")
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "submitted"
        opened = AuditEvent.objects.get(verb="escalation.report_opened")
        assert opened.after["report_xml_sha256"] == escalation.manifest["report.xml"]
        escalation.refresh_from_db()
        sent = fake_cybertip.reports[escalation.report_id].report_xml
        assert sent == packet_report_xml(escalation) and b"changed later" not in sent

    def test_a_packet_changed_since_assembly_is_never_sent(
        self, make_escalation, fake_cybertip, boss
    ):
        escalation = make_escalation()
        manifest = {**escalation.manifest, "report.xml": "0" * 64}
        Escalation.objects.filter(pk=escalation.pk).update(manifest=manifest)
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "failed"
        escalation.refresh_from_db()
        assert "packet changed since it was assembled" in escalation.failure_reason
        assert fake_cybertip.requests == []

    def test_a_missing_evidence_file_fails_the_submission(
        self, make_escalation, fake_cybertip, boss
    ):
        escalation = make_escalation()
        default_storage.delete(escalation.files.get().media.file.name)
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "failed"
        escalation.refresh_from_db()
        assert "cannot be read" in escalation.failure_reason
        assert fake_cybertip.calls("upload") == 0 and fake_cybertip.finished_reports() == []

    def test_a_file_received_with_another_md5_is_never_finished_on_resuming(
        self, make_escalation, fake_cybertip, boss
    ):
        # The authority's MD5 of what it received is not the evidence's: the submission fails,
        # and submitting again must not carry on with that upload as if it were the evidence.
        escalation = make_escalation()
        escalation.files.update(md5="0" * 32)
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "failed"
        escalation.refresh_from_db()
        assert "MD5" in escalation.failure_reason
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "failed"
        escalation.refresh_from_db()
        assert escalation.status == S.FAILED and "MD5" in escalation.failure_reason
        assert fake_cybertip.calls("fileinfo") == 0
        assert fake_cybertip.finished_reports() == []


@pytest.mark.django_db
class TestWhoAndWhen:
    def test_only_a_ready_escalation_can_be_submitted(self, make_escalation, fake_cybertip, boss):
        escalation = make_escalation(status="assembling")
        with pytest.raises(EscalationStateError):
            start(escalation, boss)

    def test_it_is_refused_when_not_configured(self, make_escalation, boss, settings):
        settings.CYBERTIP_API_URL = ""
        with pytest.raises(EscalationStateError, match="not configured"):
            start(make_escalation(), boss)

    def test_a_submission_in_progress_blocks_manual_marking_withdrawal_and_a_second_start(
        self, make_escalation, fake_cybertip, boss
    ):
        escalation = make_escalation()
        start(escalation, boss)
        with pytest.raises(EscalationStateError, match="being submitted"):
            escalation_mark_submitted(
                escalation_id=escalation.pk, report_id=555, via="manual", user=boss
            )
        with pytest.raises(EscalationStateError, match="being submitted"):
            escalation_withdraw(escalation_id=escalation.pk, user=boss, note="changed our mind")
        with pytest.raises(EscalationStateError):
            start(escalation, boss)
        escalation.refresh_from_db()
        assert escalation.status == S.READY and escalation.report_id is None

    def test_a_submission_whose_job_was_lost_can_be_resumed_by_a_supervisor(
        self, make_escalation, fake_cybertip, boss, run_jobs
    ):
        # Started, then its job was lost (Redis restarted, the worker killed while it held the
        # lease): nothing will ever run it, and it blocks marking, withdrawal and retraction.
        escalation = make_escalation()
        start(escalation, boss)
        long_ago = timezone.now() - timedelta(hours=2)
        Escalation.objects.filter(pk=escalation.pk).update(
            submission_started_at=long_ago,
            submission_lease="dead-worker",
            submission_lease_until=long_ago + timedelta(minutes=10),
        )
        escalation.refresh_from_db()
        assert submission.can_start(escalation)
        with run_jobs():
            start(escalation, boss)
        escalation.refresh_from_db()
        assert escalation.status == S.SUBMITTED, escalation.failure_reason
        assert fake_cybertip.finished_reports() == [escalation.report_id]

    def test_a_submission_waiting_for_its_retry_is_not_taken_for_lost(
        self, make_escalation, fake_cybertip, boss, settings
    ):
        settings.CYBERTIP_RETRY_INTERVALS = [1800]
        escalation = make_escalation()
        start(escalation, boss)
        Escalation.objects.filter(pk=escalation.pk).update(
            submission_started_at=timezone.now() - timedelta(hours=2)
        )
        SubmissionAttempt.objects.create(
            escalation=escalation,
            number=1,
            step="open",
            started_at=timezone.now() - timedelta(minutes=20),
            outcome="retry",
        )
        escalation.refresh_from_db()
        assert not submission.can_start(escalation)
        with pytest.raises(EscalationStateError, match="being submitted"):
            start(escalation, boss)

    def test_a_retracted_unfinished_report_makes_it_ready_again(
        self, make_escalation, fake_cybertip, boss
    ):
        fake_cybertip.script["fileinfo"] = ["invalid"]
        escalation = make_escalation()
        start(escalation, boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "failed"
        escalation.refresh_from_db()
        report_id = escalation.report_id
        assert submission.can_retract(escalation)
        submission.escalation_retract_submission(escalation_id=escalation.pk, user=boss)
        escalation.refresh_from_db()
        assert fake_cybertip.reports[report_id].retracted
        assert escalation.status == S.READY and escalation.report_id is None
        assert not escalation.files.exclude(remote_file_id="").exists()
        assert steps(escalation)[-1] == ("retract", "ok")
        # Now it may be marked submitted by hand, with the id NCMEC gave for the manual report.
        escalation_mark_submitted(
            escalation_id=escalation.pk, report_id=777, via="manual", user=boss
        )
