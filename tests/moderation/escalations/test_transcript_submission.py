"""Conversation transcripts through the CyberTipline API, against the local fake CyberTipline:
each conversation/<n>.txt of the approved packet is uploaded as a file of the report with its own
fileDetails (supplemental, saying it is the platform's transcript and not reported content, valid
against the schema), byte for byte as the packet holds it; never twice for one report, whatever
fails and is retried; a transcript changed since assembly is never sent whole."""

from pathlib import PurePosixPath

import pytest
from lxml import etree

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.audit.names import EVENT_NAMES
from moderation.escalations import cybertip, history, submission
from moderation.escalations.models import Escalation, SubmissionAttempt
from tests.moderation import cybertip_server
from tests.moderation.escalations.account_case_fixtures import (
    assemble,
    escalate_account,
    reported_adult,
)
from tests.moderation.escalations.conversation_fixtures import (
    conversation_escalation,
)
from tests.moderation.packet_helpers import packet_entries

__all__ = ["conversation_escalation", "reported_adult"]

TRANSCRIPT = "conversation-0001.txt"


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


def steps(escalation) -> list[tuple[str, str]]:
    return list(
        SubmissionAttempt.objects.filter(escalation=escalation)
        .order_by("number")
        .values_list("step", "outcome")
    )


def sent_named(server, report_id: int, name: str) -> list[dict]:
    return [f for f in server.reports[report_id].files.values() if f["name"] == name]


def uploads_named(server, name: str) -> int:
    """Upload requests that carried a file of this name (accepted or not)."""
    return sum(
        1 for r in server.requests if r.path == "upload" and f'filename="{name}"'.encode() in r.body
    )


@pytest.mark.django_db
class TestTranscriptUpload:
    def test_each_transcript_goes_with_its_own_file_details(
        self, conversation_escalation, fake_cybertip, boss, run_jobs, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        built = conversation_escalation()
        escalation = built.assemble()
        with run_jobs():
            submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        escalation.refresh_from_db()
        assert escalation.status == "submitted", escalation.failure_reason
        # Two evidence files, then the transcript, each with its details, then finish.
        assert steps(escalation) == [
            ("open", "ok"),
            ("upload", "ok"),
            ("file_details", "ok"),
            ("upload", "ok"),
            ("file_details", "ok"),
            ("upload", "ok"),
            ("file_details", "ok"),
            ("finish", "ok"),
        ]
        [report_id] = fake_cybertip.finished_reports()
        [sent] = sent_named(fake_cybertip, report_id, TRANSCRIPT)
        packet = packet_entries(escalation)
        assert sent["data"] == packet["conversation/0001.txt"]
        details = sent["details"]
        assert cybertip.validate(details) == []
        root = etree.fromstring(details)
        file_id = next(
            fid for fid, f in fake_cybertip.reports[report_id].files.items() if f is sent
        )
        assert root.findtext("reportId") == str(report_id)
        assert root.findtext("fileId") == file_id
        assert root.findtext("fileName") == TRANSCRIPT
        assert root.findtext("fileRelevance") == "Supplemental Reported"
        # Vigil made it: no original name, upload, location or view of the reported user's.
        for absent in (
            "originalFileName",
            "uploadedToEspTimestamp",
            "locationOfFile",
            "fileViewedByEsp",
            "ipCaptureEvent",
        ):
            assert root.find(absent) is None, absent
        words = root.findtext("additionalInfo")
        sha = escalation.manifest["conversation/0001.txt"]
        assert words.startswith(
            f"Not reported content: the transcript of the conversation {built.item.platform_id}"
            " on Social Example, made by Social Example from its records for this report. "
            "Every message of the conversation (7 messages, 2 reported) in the order sent"
        )
        assert words.endswith(
            f"It is conversation/0001.txt in Social Example's packet for this report, SHA-256 "
            f"{sha}."
        )
        uploaded = AuditEvent.objects.get(verb="escalation.transcript_uploaded")
        assert uploaded.after == {
            "report_id": report_id,
            "name": "conversation/0001.txt",
            "file_name": TRANSCRIPT,
            "sha256": sha,
            "file_id": file_id,
        }
        assert AuditEvent.objects.filter(verb="escalation.transcript_details_sent").count() == 1
        assert "escalation.transcript_uploaded" in EVENT_NAMES
        # In the escalation's history, in words.
        assert history.describe(uploaded) == (
            f"Transcript conversation/0001.txt sent to the CyberTipline with report {report_id}"
        )

    def test_an_account_cases_two_conversations_send_two_transcripts(
        self, reported_adult, reviewer, make_user, fake_cybertip, boss
    ):
        escalation = assemble(escalate_account(reviewer, make_user))
        submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "submitted"
        [report_id] = fake_cybertip.finished_reports()
        names = [f["name"] for f in fake_cybertip.reports[report_id].files.values()]
        # The post's image, then the two conversations' transcripts.
        evidence = PurePosixPath(escalation.files.get().name).name
        assert names == [evidence, "conversation-0001.txt", "conversation-0002.txt"]
        packet = packet_entries(escalation)
        for n in (1, 2):
            [sent] = sent_named(fake_cybertip, report_id, f"conversation-000{n}.txt")
            assert sent["data"] == packet[f"conversation/000{n}.txt"]
            assert f"conversation c{n} on".encode() in sent["details"]


@pytest.mark.django_db
class TestNeverTwice:
    def test_details_refused_for_a_while_do_not_upload_it_again(
        self, conversation_escalation, fake_cybertip, boss
    ):
        # The evidence's two fileDetails go through; the transcript's meets a server error.
        fake_cybertip.script["fileinfo"] = ["ok", "ok", "500"]
        escalation = conversation_escalation().assemble()
        submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        first = submission.submission_run(escalation_id=escalation.pk)
        assert first.outcome == "retry"
        assert steps(escalation)[-2:] == [("upload", "ok"), ("file_details", "retry")]
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "submitted"
        escalation.refresh_from_db()
        # Resumed with the details alone: one upload of the transcript in all.
        assert steps(escalation)[-2:] == [("file_details", "ok"), ("finish", "ok")]
        assert uploads_named(fake_cybertip, TRANSCRIPT) == 1
        [sent] = sent_named(fake_cybertip, escalation.report_id, TRANSCRIPT)
        assert sent["details"] is not None

    def test_an_upload_that_failed_is_sent_once_more_and_a_lost_finish_sends_nothing_again(
        self, conversation_escalation, fake_cybertip, boss
    ):
        fake_cybertip.script["upload"] = ["ok", "ok", "503"]
        fake_cybertip.script["finish"] = ["503"]
        escalation = conversation_escalation().assemble()
        submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        outcomes = [submission.submission_run(escalation_id=escalation.pk).outcome for _ in "abc"]
        assert outcomes == ["retry", "retry", "submitted"]
        escalation.refresh_from_db()
        # The failed upload again, then its details, a finish that failed, and finish again.
        assert steps(escalation)[5:] == [
            ("upload", "retry"),
            ("upload", "ok"),
            ("file_details", "ok"),
            ("finish", "retry"),
            ("finish", "ok"),
        ]
        assert uploads_named(fake_cybertip, TRANSCRIPT) == 2  # the one refused, the one taken
        assert len(sent_named(fake_cybertip, escalation.report_id, TRANSCRIPT)) == 1
        assert AuditEvent.objects.filter(verb="escalation.transcript_uploaded").count() == 1
        assert fake_cybertip.calls("fileinfo") == 3

    def test_after_a_retraction_the_new_report_gets_its_own_copy(
        self, conversation_escalation, fake_cybertip, boss
    ):
        fake_cybertip.script["fileinfo"] = ["ok", "ok", "invalid"]
        escalation = conversation_escalation().assemble()
        submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "failed"
        escalation.refresh_from_db()
        first_report = escalation.report_id
        assert len(sent_named(fake_cybertip, first_report, TRANSCRIPT)) == 1
        submission.escalation_retract_submission(escalation_id=escalation.pk, user=boss)
        submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        assert submission.submission_run(escalation_id=escalation.pk).outcome == "submitted"
        escalation.refresh_from_db()
        assert escalation.report_id != first_report
        [sent] = sent_named(fake_cybertip, escalation.report_id, TRANSCRIPT)
        assert sent["details"] is not None
        assert fake_cybertip.finished_reports() == [escalation.report_id]


@pytest.mark.django_db
def test_a_transcript_changed_since_assembly_is_never_sent_whole(
    conversation_escalation, fake_cybertip, boss
):
    escalation = conversation_escalation().assemble()
    manifest = {**escalation.manifest, "conversation/0001.txt": "0" * 64}
    Escalation.objects.filter(pk=escalation.pk).update(manifest=manifest)
    submission.escalation_submit(escalation_id=escalation.pk, user=boss)
    assert submission.submission_run(escalation_id=escalation.pk).outcome == "failed"
    escalation.refresh_from_db()
    assert escalation.status == "failed"
    assert "conversation/0001.txt no longer matches" in escalation.failure_reason
    assert sent_named(fake_cybertip, escalation.report_id, TRANSCRIPT) == []
    assert fake_cybertip.finished_reports() == []
    assert not AuditEvent.objects.filter(verb="escalation.transcript_uploaded").exists()
