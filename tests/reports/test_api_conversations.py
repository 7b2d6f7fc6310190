"""POST /api/v1/reports with a conversation: participants with ages and roles, the reported
messages and their neighbours, attachments, links; rolled up per conversation; faults."""

import copy
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from reports.conversations import BATCH
from reports.models import ContentItem, Link, Media, Message, Participant, Report
from tests.api_helpers import auth, b64, token_for
from tests.conftest import png_bytes
from tests.conversations import conversation_payload, message_time


def post(client, token, payload):
    return client.post(
        "/api/v1/reports", data=json.dumps(payload), content_type="application/json", **auth(token)
    )


@pytest.fixture
def token(make_user):
    return token_for(make_user)


def thread(conversation_id="conv-1"):
    return list(
        Message.objects.filter(conversation__platform_id=conversation_id)
        .order_by("sent_at", "id")
        .values_list("platform_id", "sender__account_id", "reported")
    )


@pytest.mark.django_db
class TestConversationReport:
    def test_it_stores_the_conversation_on_one_case(self, client, token):
        r = post(client, token, conversation_payload())
        assert r.status_code == 201, r.content
        report = Report.objects.get()
        item = report.content_item
        assert r.json() == {"reference": report.reference, "case_id": report.case_id}
        assert item.type == ContentItem.Type.CONVERSATION and item.platform_id == "conv-1"
        # A minor among the participants: a case involving a child, in the child-safety queue.
        assert report.involves_child and report.case.queue.slug == "child-safety"
        roles = dict(Participant.objects.values_list("account_id", "role"))
        assert roles == {"adult-1": "adult", "minor-1": "minor"}
        adult = Participant.objects.get(account_id="adult-1")
        minor = Participant.objects.get(account_id="minor-1")
        assert (adult.age, adult.age_source, adult.reported) == (34, "estimated", True)
        assert (minor.age, minor.age_source, minor.is_reporter) == (13, "stated", True)
        assert not adult.is_reporter and not minor.reported
        assert [m[0] for m in thread()] == [f"conv-1-m{i}" for i in range(5)]
        assert [m[2] for m in thread()] == [False, False, True, False, False]

    def test_the_reporters_account_is_only_a_mark_on_the_participant(self, client, token):
        post(client, token, conversation_payload())
        for event in AuditEvent.objects.all():
            assert "minor-1" not in json.dumps(event.after or {})

    def test_another_report_of_the_conversation_joins_its_case_and_thread(self, client, token):
        first = post(client, token, conversation_payload()).json()
        payload = conversation_payload(reported=(4,))
        payload["conversation"]["messages"].append(
            {
                "id": "conv-1-m5",
                "sender_id": "adult-1",
                "sent_at": message_time(5).isoformat(),
                "text": "you there?",
            }
        )
        payload["reporter"] = {"kind": "platform_user", "account_id": "someone-else"}
        second = post(client, token, payload).json()
        assert second["case_id"] == first["case_id"]
        assert Case.objects.count() == 1 and Report.objects.count() == 2
        assert Message.objects.count() == 6
        # Reported by either report stays reported.
        assert [m[2] for m in thread()] == [False, False, True, False, True, False]
        assert Case.objects.get().reports_count == 2

    def test_messages_arrive_in_any_order_and_are_read_in_the_order_sent(self, client, token):
        payload = conversation_payload()
        payload["conversation"]["messages"].reverse()
        assert post(client, token, payload).status_code == 201
        assert [m[0] for m in thread()] == [f"conv-1-m{i}" for i in range(5)]

    def test_a_message_sent_twice_in_one_report_is_stored_once(self, client, token):
        payload = conversation_payload()
        messages = payload["conversation"]["messages"]
        messages.append(copy.deepcopy(messages[0]))
        r = post(client, token, payload)
        assert r.status_code == 201 and "warnings" not in r.json()
        assert Message.objects.count() == 5

    def test_a_message_id_repeated_with_other_words_keeps_the_first_and_says_so(
        self, client, token
    ):
        payload = conversation_payload()
        messages = payload["conversation"]["messages"]
        messages.append({**messages[0], "text": "something else", "reported": True})
        r = post(client, token, payload)
        assert r.status_code == 201
        assert [w["code"] for w in r.json()["warnings"]] == ["duplicate_message"]
        first = Message.objects.get(platform_id="conv-1-m0")
        # The first words are kept; that it was reported is not lost.
        assert first.text == "hey, you seem mature for your age" and first.reported

    def test_a_sender_missing_from_the_participants_is_kept_with_an_unknown_age(
        self, client, token
    ):
        payload = conversation_payload()
        payload["conversation"]["messages"].append(
            {
                "id": "conv-1-m9",
                "sender_id": "stranger-7",
                "sent_at": message_time(9).isoformat(),
                "text": "hi",
            }
        )
        r = post(client, token, payload)
        assert r.status_code == 201
        assert [w["code"] for w in r.json()["warnings"]] == ["sender_not_listed"]
        stranger = Participant.objects.get(account_id="stranger-7")
        assert (stranger.role, stranger.listed, stranger.age) == ("unknown", False, None)
        assert Message.objects.get(platform_id="conv-1-m9").sender == stranger

    def test_a_later_report_listing_the_sender_fills_in_what_it_knows(self, client, token):
        payload = conversation_payload()
        payload["conversation"]["messages"][0]["sender_id"] = "stranger-7"
        post(client, token, payload)
        payload["conversation"]["participants"].append(
            {"account_id": "stranger-7", "handle": "@s7", "age": 40}
        )
        post(client, token, payload)
        stranger = Participant.objects.get(account_id="stranger-7")
        assert (stranger.listed, stranger.age, stranger.role) == (True, 40, "adult")

    def test_attachments_are_stored_on_their_message_and_hashed(self, client, token, run_jobs):
        payload = conversation_payload()
        payload["conversation"]["messages"][2]["attachments"] = [
            {"filename": "a.png", "data_base64": b64(png_bytes())}
        ]
        with run_jobs():
            assert post(client, token, payload).status_code == 201
        media = Media.objects.get()
        assert media.message.platform_id == "conv-1-m2" and media.report is not None
        assert media.hashed_at is not None and media.pdq
        # Sent again with the same file: not stored twice.
        post(client, token, payload)
        assert Media.objects.count() == 1

    def test_links_in_messages_and_the_description_are_recorded_for_fetching(self, client, token):
        payload = conversation_payload(
            description="he sent https://files.example/a.jpg.",
            links=["https://files.example/b.png"],
        )
        payload["conversation"]["messages"][2]["text"] = "look (https://img.example/x.jpg)"
        assert post(client, token, payload).status_code == 201
        links = {link.url: link for link in Link.objects.all()}
        assert set(links) == {
            "https://files.example/a.jpg",
            "https://files.example/b.png",
            "https://img.example/x.jpg",
        }
        assert links["https://img.example/x.jpg"].message.platform_id == "conv-1-m2"
        assert all(link.status == "pending" for link in links.values())

    def test_a_newly_reported_message_reopens_a_decided_conversation(self, client, token):
        post(client, token, conversation_payload())
        case = Case.objects.get()
        Case.objects.filter(pk=case.pk).update(status="decided", decided_at=case.created_at)
        post(client, token, conversation_payload())  # nothing new: counted
        assert Case.objects.get().status == "decided"
        post(client, token, conversation_payload(reported=(2, 4)))
        assert Case.objects.get().status == "open"

    def test_a_conversation_of_ten_thousand_messages_is_accepted_in_batches(self, client, token):
        def messages(n, prefix):
            return [
                {
                    "id": f"{prefix}{i}",
                    "sender_id": "adult-1" if i % 3 else "minor-1",
                    "sent_at": message_time(i).isoformat(),
                    "text": f"line {i}",
                    "reported": i == n - 1000 or n < 1000 and i == 2,
                }
                for i in range(n)
            ]

        with CaptureQueriesContext(connection) as small:
            post(
                client, token, conversation_payload(conversation_id="c5", messages=messages(5, "s"))
            )
        with CaptureQueriesContext(connection) as large:
            r = post(client, token, conversation_payload(messages=messages(10_000, "m")))
        assert r.status_code == 201, r.content
        assert Message.objects.filter(conversation__platform_id="conv-1").count() == 10_000
        reported = Message.objects.filter(conversation__platform_id="conv-1", reported=True)
        assert reported.get().platform_id == "m9000"

        # Checked and read back a thousand at a time, written as the database takes them (SQLite
        # takes fewer rows per INSERT than PostgreSQL): queries per thousand, not per message.
        def reads(queries):
            return [q for q in queries if not q["sql"].startswith("INSERT")]

        batches = 10_000 // BATCH
        assert len(reads(large)) - len(reads(small)) <= 2 * batches
        inserts = [q for q in large if q["sql"].startswith('INSERT INTO "reports_message"')]
        assert len(inserts) <= 10_000 // 100


@pytest.mark.django_db
class TestConversationReportErrors:
    @pytest.mark.parametrize(
        "change, where",
        [
            (
                lambda p: p["conversation"]["participants"].append(
                    p["conversation"]["participants"][0]
                ),
                "conversation",
            ),
            (lambda p: p["conversation"]["participants"][1].update(age=-1), "age"),
            (lambda p: p["conversation"]["participants"][1].update(age="13"), "age"),
            (lambda p: p["conversation"]["messages"][0].update(sender_id=""), "sender_id"),
            (lambda p: p["conversation"]["messages"][0].update(sent_at="yesterday"), "sent_at"),
            (
                lambda p: p["conversation"]["messages"][0].update(sent_at="2026-11-01T20:00:00"),
                "sent_at",
            ),
            (lambda p: p["conversation"].update(messages=[]), "messages"),
            (lambda p: p["content"].update(type="image"), "conversation"),
            (lambda p: p["content"].update(owner_email="not an address"), "owner_email"),
            (lambda p: p.update(links=["ftp://files.example/a.jpg"]), "links"),
        ],
    )
    def test_bad_input_is_a_422_saying_where(self, client, token, change, where):
        payload = conversation_payload()
        change(payload)
        r = post(client, token, payload)
        assert r.status_code == 422, r.content
        assert r.json()["error"] == "invalid_request"
        assert where in json.dumps(r.json()["detail"])
        assert not Report.objects.exists() and not Message.objects.exists()

    def test_a_bad_attachment_is_located_in_the_conversation(self, client, token):
        payload = conversation_payload()
        payload["conversation"]["messages"][3]["attachments"] = [
            {"filename": "a.png", "data_base64": "!!!"}
        ]
        r = post(client, token, payload)
        assert r.status_code == 422
        assert r.json()["detail"]["loc"] == [
            "conversation",
            "messages",
            3,
            "attachments",
            0,
            "data_base64",
        ]
        assert not Report.objects.exists()


@pytest.mark.django_db
class TestConversationOnOtherContent:
    def test_a_conversation_on_an_id_known_as_a_post_is_refused(self, client, token):
        from tests.api_helpers import report_payload

        post(client, token, report_payload(content={"id": "conv-1", "type": "image"}))
        r = post(client, token, conversation_payload())
        assert r.status_code == 409 and r.json()["error"] == "not_a_conversation"
        assert not Participant.objects.exists() and not Message.objects.exists()

    def test_one_reported_without_a_type_becomes_the_conversation(self, client, token):
        from tests.api_helpers import report_payload

        post(client, token, report_payload(content={"id": "conv-1"}, media=[]))
        assert post(client, token, conversation_payload()).status_code == 201
        item = ContentItem.objects.get(platform_id="conv-1")
        assert item.type == "conversation" and item.messages.count() == 5

    @pytest.mark.parametrize("field", ["account_id", "handle"])
    def test_an_id_or_handle_on_two_lines_is_refused(self, client, token, field):
        payload = conversation_payload()
        payload["conversation"]["participants"][0][field] = "evil\nname"
        r = post(client, token, payload)
        assert r.status_code == 422 and "control characters" in json.dumps(r.json())
