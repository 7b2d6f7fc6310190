"""Packets of conversations: the whole thread as conversation/<n>.txt (listed in the manifest
with its SHA-256, written a batch of messages at a time), the summary's participants and
messages, text-only enticement without any evidence file (assembled, and submitted with its
transcript), and every document valid against the schema."""

import hashlib
import tracemalloc

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from moderation.escalations import cybertip, submission
from moderation.escalations import cybertip_chat as chat
from moderation.escalations.models import Escalation, SubmissionAttempt
from moderation.escalations.packet import escalation_assemble
from reports.models import Participant
from tests.moderation import cybertip_server
from tests.moderation.escalations.conversation_fixtures import (
    CHILD,
    GROOMER,
    UNKNOWN,
    Said,
    conversation_escalation,
)
from tests.moderation.packet_helpers import packet_bytes, packet_entries, packet_json

__all__ = ["conversation_escalation"]

TEXT_ONLY = [
    Said("t1", "acct-groomer", "how old are you?", 0),
    Said("t2", "acct-child", "13", 1),
    Said("t3", "acct-groomer", "don't tell your parents we talk", 2, True),
    Said("t4", "acct-groomer", "meet me at the park saturday", 3, True),
]


def long_thread(n: int) -> list[Said]:
    return [
        Said(f"x{i}", "acct-groomer" if i % 2 else "acct-child", f"line {i} " + "ab " * 60, i)
        for i in range(n)
    ]


def assert_every_document_valid(entries: dict[str, bytes]) -> None:
    for name, data in entries.items():
        if name == "report.xml" or name.startswith("fileDetails/"):
            assert cybertip.validate(data) == [], f"{name}: {data.decode()}"


@pytest.mark.django_db
class TestTranscript:
    def test_the_whole_thread_is_in_the_packet_and_its_manifest(
        self, conversation_escalation, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        built = conversation_escalation(people=(GROOMER, CHILD, UNKNOWN))
        escalation = built.assemble()
        entries = packet_entries(escalation)
        files = list(escalation.files.order_by("name"))
        assert list(entries) == [
            "report.xml",
            "fileDetails/0001.xml",
            "fileDetails/0002.xml",
            *[f.name for f in files],
            "conversation/0001.txt",
            "summary.json",
            "manifest.json",
        ]
        assert_every_document_valid(entries)
        transcript = entries["conversation/0001.txt"]
        listed = {f["name"]: f for f in packet_json(escalation, "manifest.json")["files"]}
        assert listed["conversation/0001.txt"] == {
            "name": "conversation/0001.txt",
            "sha256": hashlib.sha256(transcript).hexdigest(),
            "size": len(transcript),
        }
        assert (
            escalation.manifest["conversation/0001.txt"]
            == listed["conversation/0001.txt"]["sha256"]
        )
        text = transcript.decode()
        case = escalation.cases.get()
        assert text.startswith(
            f"Conversation {built.item.platform_id} on Social Example (case {case.pk})\n"
            f"Address: {built.item.url}\n"
        )
        assert "Participants (3):\n" in text
        assert (
            "  cool_coach (account acct-groomer, “Coach Mike”): an adult, aged 34 as stated on "
            "Social Example; the reported account\n"
        ) in text
        assert (
            "  skater_kid (account acct-child, “Sam”): a minor, aged about 13 as estimated" in text
        )
        assert (
            "  quiet_one (account acct-unknown): age unknown (Social Example gave none)\n" in text
        )
        assert "Messages (7, 2 reported):\n" in text
        by_message = {f.media.message.platform_id: f.name for f in files}
        assert (
            "[2026-11-20T21:02:00Z] cool_coach (reported): send me a pic of you, just for me\n"
            "    our secret ok?\n"
        ) in text
        assert f"[2026-11-20T21:05:00Z] skater_kid: ok [file: {by_message['m6']}]\n" in text
        # Who reported the conversation is not said (the child did, in these fixtures).
        assert "reporter" not in text.lower()

    def test_the_summary_lists_the_conversation_and_the_messages_that_carried_files(
        self, conversation_escalation
    ):
        built = conversation_escalation(owner_email="owner@records.example")
        escalation = built.assemble()
        summary = packet_json(escalation, "summary.json")
        # As the report gives them: the content's owner's address, then the one its listing
        # as a participant gave.
        assert summary["reported_account"]["emails"] == [
            "owner@records.example",
            GROOMER.email,
        ]
        [conversation] = summary["conversations"]
        assert conversation["transcript"] == "conversation/0001.txt"
        assert conversation["messages"] == 7 and conversation["reported_messages"] == 2
        assert conversation["first_sent_at"].startswith("2026-11-20T21:00:00")
        assert [
            (p["account_id"], p["role"], p["age"], p["reported"])
            for p in conversation["participants"]
        ] == [(GROOMER.account_id, "adult", 34, True), (CHILD.account_id, "minor", 13, False)]
        assert "is_reporter" not in str(summary) and "reporter-inbox" not in str(summary)
        sent = {f["name"]: f["sent_in"] for f in summary["files"]}
        child_file = escalation.files.get(media__message__platform_id="m6").name
        assert sent[child_file] == [
            {
                "conversation": built.item.platform_id,
                "message": "m6",
                "sender": CHILD.account_id,
                "sent_at": built.messages["m6"].sent_at.isoformat(),
                "reported_message": False,
                "via_link": None,
            }
        ]

    def test_assembling_again_gives_the_same_packet(self, conversation_escalation):
        escalation = conversation_escalation().assemble()
        first = escalation.packet_sha256
        default_storage.delete(escalation.packet.name)
        Escalation.objects.filter(pk=escalation.pk).update(status="assembling", packet_sha256="")
        escalation_assemble(escalation_id=escalation.pk)
        escalation.refresh_from_db()
        assert escalation.status == "ready" and escalation.packet_sha256 == first

    def test_progress_counts_the_conversation(self, conversation_escalation):
        escalation = conversation_escalation().assemble()
        assert escalation.progress_total == 2 + 1 + 2
        assert escalation.progress_done == escalation.progress_total


@pytest.mark.django_db
class TestTextOnlyEnticement:
    def test_a_conversation_without_files_makes_a_valid_packet(
        self, conversation_escalation, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        built = conversation_escalation(thread=TEXT_ONLY)
        escalation = built.assemble()
        assert escalation.status == "ready" and not escalation.files.exists()
        entries = packet_entries(escalation)
        assert list(entries) == [
            "report.xml",
            "conversation/0001.txt",
            "summary.json",
            "manifest.json",
        ]
        assert_every_document_valid(entries)
        report = entries["report.xml"].decode()
        assert "<chatImIncident>" in report and "<fileDetails>" not in report
        assert "(reported): meet me at the park saturday" in report
        assert "<victim>" in report
        assert packet_json(escalation, "summary.json")["files"] == []
        assert escalation.packet_sha256 == hashlib.sha256(packet_bytes(escalation)).hexdigest()

    def test_it_is_submitted_with_its_transcript_and_no_evidence_file(
        self, conversation_escalation, make_user, run_jobs, settings
    ):
        server = cybertip_server.FakeCyberTipline(slow_seconds=2.5)
        httpd = cybertip_server.start(server)
        try:
            settings.CYBERTIP_API_URL = server.url
            settings.CYBERTIP_USERNAME = cybertip_server.USERNAME
            settings.CYBERTIP_PASSWORD = cybertip_server.PASSWORD
            escalation = conversation_escalation(thread=TEXT_ONLY).assemble()
            with run_jobs():
                submission.escalation_submit(
                    escalation_id=escalation.pk, user=make_user("sue", Role.SUPERVISOR)
                )
        finally:
            httpd.shutdown()
            httpd.server_close()
        escalation.refresh_from_db()
        assert escalation.status == "submitted", escalation.failure_reason
        steps = list(
            SubmissionAttempt.objects.filter(escalation=escalation)
            .order_by("number")
            .values_list("step", "outcome")
        )
        # No evidence file: the conversation's transcript is the one file sent.
        assert steps == [("open", "ok"), ("upload", "ok"), ("file_details", "ok"), ("finish", "ok")]
        [report_id] = server.finished_reports()
        assert b"<chatImIncident>" in server.reports[report_id].report_xml
        files = server.reports[report_id].files.values()
        assert [f["name"] for f in files] == ["conversation-0001.txt"]


@pytest.mark.django_db
class TestLongConversation:
    def test_ten_thousand_messages_are_all_in_the_transcript(self, conversation_escalation):
        thread = long_thread(10_000)
        thread[7000] = Said("x7000", "acct-groomer", "the reported one", 7000, True)
        escalation = conversation_escalation(thread=thread).assemble()
        entries = packet_entries(escalation)
        assert_every_document_valid(entries)
        lines = [
            line
            for line in entries["conversation/0001.txt"].decode().split("\n")
            if line.startswith("[")
        ]
        assert len(lines) == 10_000
        assert lines[0].startswith("[2026-11-20T21:00:00Z] skater_kid: line 0 ")
        assert lines[7000] == "[2026-11-25T17:40:00Z] cool_coach (reported): the reported one"
        assert lines[-1].startswith("[2026-11-27T19:39:00Z] cool_coach: line 9999 ")

    def test_the_transcript_reads_a_batch_at_a_time(self, conversation_escalation):
        built = conversation_escalation(thread=long_thread(1_200))
        with CaptureQueriesContext(connection) as captured:
            pieces = list(
                chat.transcript(
                    built.item,
                    cutoff=built.escalation.approved_at,
                    file_names={},
                    platform="P",
                    case_id=1,
                )
            )
        assert sum(piece.startswith("[") for piece in pieces) == 1_200
        pages = [q["sql"] for q in captured if "LIMIT 500" in q["sql"]]
        # 1,200 messages: three pages of at most 500, and the empty one that ends it.
        assert len(pages) == 4
        message_reads = [q["sql"] for q in captured if '"reports_message"."text"' in q["sql"]]
        assert message_reads == pages

    def test_memory_stays_flat_however_long_the_conversation(self, conversation_escalation):
        def peak(n: int) -> int:
            built = conversation_escalation(thread=long_thread(n))
            stream = chat.transcript(
                built.item,
                cutoff=built.escalation.approved_at,
                file_names={},
                platform="P",
                case_id=1,
            )
            tracemalloc.start()
            try:
                size = sum(len(piece) for piece in stream)
                return tracemalloc.get_traced_memory()[1], size
            finally:
                tracemalloc.stop()

        small, small_size = peak(1_000)
        large, large_size = peak(10_000)
        assert large_size > 9 * small_size
        # Ten times the messages, about the same peak: a batch at a time, never the thread.
        assert large < 2 * small, (small, large)
        # And far less than the text it wrote (2 MB): the thread is never held whole.
        assert large < large_size / 3, (large, large_size)


@pytest.mark.django_db
def test_participants_received_after_approval_are_not_in_the_packet(conversation_escalation):
    built = conversation_escalation()
    Participant.objects.create(
        conversation=built.item,
        account_id="acct-late",
        handle="late_joiner",
        created_at=built.escalation.approved_at.replace(year=2100),
    )
    escalation = built.assemble()
    entries = packet_entries(escalation)
    assert b"late_joiner" not in entries["conversation/0001.txt"]
    assert b"late_joiner" not in entries["report.xml"]
    assert b"late_joiner" not in entries["summary.json"]
