"""An account case escalated with its evidence (issue 19): reports about one adult add up to a
case about the account (two conversations with two minors, and a post), a reviewer escalates it
(escalation_open on the account case, then escalation_gather with the latest case of each
evidence item, as a decision on an account case does), and the packet reports the account once
as the reported person (its handle, e-mail address and IP captures), each conversation as a chat
incident, the post as a web page incident, each minor once as a victim, and why the account was
reviewed as a whole. Every document valid against the CyberTipline schema."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from lxml import etree

from moderation.cases.models import Case
from moderation.escalations import cybertip_account
from moderation.escalations.models import Escalation
from moderation.escalations.services import escalation_open
from moderation.review.services import case_decide
from reports import account_rules
from reports.content import ContentFacts, IpCaptureIn
from reports.conversation_intake import conversation_report_submit
from reports.conversations import ConversationFacts, MessageFacts, ParticipantFacts
from reports.models import Report
from tests.conversations import message_time
from tests.moderation.escalations.account_case_fixtures import (
    ADULT,
    EMAIL,
    LOGIN,
    POST_URL,
    assemble,
    escalate_account,
    reported_adult,
)
from tests.moderation.escalations.conversation_fixtures import ENTICEMENT, approve_escalation
from tests.moderation.escalations.test_conversation_packet import assert_every_document_valid
from tests.moderation.packet_helpers import packet_entries, packet_json

__all__ = ["reported_adult"]


def elements(root, path: str) -> list:
    return root.findall(path)


@pytest.mark.django_db
class TestAccountCasePacket:
    def test_it_reports_the_account_once_with_both_conversations_and_both_minors(
        self, reported_adult, reviewer, make_user, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        escalation = escalate_account(reviewer, make_user)
        # The account case and its three pieces of evidence, in one escalation of the account.
        assert escalation.owner_id == ADULT
        assert {c.content_item.platform_id for c in escalation.cases.all()} == {
            ADULT,
            "post-77",
            "c1",
            "c2",
        }
        # A grooming account case: an enticement report from the start.
        assert escalation.incident_type == ENTICEMENT
        escalation = assemble(escalation)
        entries = packet_entries(escalation)
        assert_every_document_valid(entries)
        assert "conversation/0001.txt" in entries and "conversation/0002.txt" in entries
        root = etree.fromstring(entries["report.xml"])

        chats = elements(root, "internetDetails/chatImIncident")
        assert len(chats) == 2
        words = [c.findtext("additionalInfo") for c in chats]
        assert words[0].startswith("Conversation c1 on Social Example.")
        assert words[1].startswith("Conversation c2 on Social Example.")
        assert "The content above is the whole conversation as received" in words[0]
        assert "(reported): message 2" in chats[0].findtext("content")
        # The post is the one web page incident; the account case is no incident of its own.
        [web] = elements(root, "internetDetails/webPageIncident")
        assert [u.text for u in web.findall("url")] == [POST_URL]
        assert web.findtext("additionalInfo") == "Content ids on Social Example: post-77."

        # The account, once, with what the platform holds for it.
        [person] = elements(root, "personOrUserReported")
        assert person.findtext("espIdentifier") == ADULT
        assert person.findtext("screenName") == "@smooth"
        assert [e.text for e in person.findall("personOrUserReportedPerson/email")] == [EMAIL]
        assert person.findtext("personOrUserReportedPerson/age") == "34"
        captures = [
            (c.findtext("ipAddress"), c.findtext("eventName"), c.findtext("dateTime"))
            for c in person.findall("ipCaptureEvent")
        ]
        assert captures == [
            ("203.0.113.77", "Login", "2026-10-30T18:00:00Z"),
            ("2001:db8::77", "Upload", "2026-10-30T18:05:00Z"),
        ]
        assert "conversations c1, c2 on Social Example" in person.findtext("additionalInfo")

        # Each minor once, as an intended recipient and as a victim, whatever the conversations.
        victims = [v.findtext("espIdentifier") for v in elements(root, "victim")]
        recipients = [r.findtext("espIdentifier") for r in elements(root, "intendedRecipient")]
        assert victims == ["kid-1", "kid-2"]
        assert recipients == ["kid-1", "kid-2"]
        for victim in elements(root, "victim"):
            assert victim.findtext("victimPerson/age") == "13"

        # Why the account was reviewed as a whole, then the preparer's words.
        info = root.findtext("additionalInfo")
        assert info.startswith(
            "Account case: Social Example reviewed the account adult-1 (@smooth) as a whole, "
            "because what was reported about it added up: in reported conversations with 2 "
            "minors; 3 different things it posted or sent reported or flagged. The "
            "conversations and content in this report are its evidence.\n\n"
        )
        assert info.endswith(escalation.incident_summary)

        # The post's image, with its fileDetails.
        [f] = escalation.files.all()
        assert f.case.content_item.platform_id == "post-77"
        details = etree.fromstring(entries["fileDetails/0001.xml"])
        assert details.findtext("locationOfFile") == POST_URL
        assert details.findtext("ipCaptureEvent/ipAddress") == "2001:db8::77"

    def test_the_summary_lists_the_account_case_and_why(
        self, reported_adult, reviewer, make_user, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        escalation = assemble(escalate_account(reviewer, make_user))
        summary = packet_json(escalation, "summary.json")
        assert summary["reported_account"] == {
            "platform_id": ADULT,
            "screen_name": "@smooth",
            "emails": [EMAIL],
        }
        [account] = summary["account_cases"]
        assert account["account"] == ADULT and account["cases"] == [reported_adult.pk]
        assert (account["minor_contacts"], account["reported_items"]) == (2, 3)
        assert account["why"].startswith("Account case: Social Example reviewed the account")
        kinds = sorted(c["content"]["type"] for c in summary["cases"])
        assert kinds == ["account", "conversation", "conversation", "post"]
        assert [c["platform_id"] for c in summary["conversations"]] == ["c1", "c2"]

    def test_a_conversation_someone_else_owns_says_nothing_of_their_e_mail_or_addresses(
        self, reported_adult, reviewer, make_user, run_jobs
    ):
        # Reported by the other side: the adult sent the reported message in a conversation
        # the platform files under another account, whose e-mail and IPs those are.
        with run_jobs():
            conversation_report_submit(
                category="grooming",
                source=Report.Source.API,
                reporter_kind=Report.ReporterKind.PLATFORM_USER,
                content=ContentFacts(
                    platform_id="c3",
                    owner_id="kid-3",
                    owner_email="kid3@mail.example",
                    ip_captures=[IpCaptureIn("198.51.100.33", "Login", LOGIN.captured_at)],
                ),
                conversation=ConversationFacts(
                    participants=[
                        ParticipantFacts(
                            account_id=ADULT, handle="@smooth", age=34, age_source="stated"
                        ),
                        ParticipantFacts(
                            account_id="kid-3", handle="@kid3", age=12, age_source="stated"
                        ),
                    ],
                    messages=[
                        MessageFacts(
                            id="c3-m0",
                            sender_id=ADULT,
                            sent_at=message_time(0),
                            text="our secret",
                            reported=True,
                        )
                    ],
                    reported_id=ADULT,
                ),
                reporter_account_id="kid-3",
                actor_label="test",
            )
        escalation = escalate_account(reviewer, make_user)
        assert "c3" in {c.content_item.platform_id for c in escalation.cases.all()}
        entries = packet_entries(assemble(escalation))
        assert_every_document_valid(entries)
        root = etree.fromstring(entries["report.xml"])
        assert len(elements(root, "internetDetails/chatImIncident")) == 3
        [person] = elements(root, "personOrUserReported")
        assert person.findtext("espIdentifier") == ADULT
        assert [e.text for e in person.findall("personOrUserReportedPerson/email")] == [EMAIL]
        assert "198.51.100.33" not in entries["report.xml"].decode()
        assert b"kid3@mail.example" not in entries["summary.json"]
        # The third minor joins the others, once.
        assert [v.findtext("espIdentifier") for v in elements(root, "victim")] == [
            "kid-1",
            "kid-2",
            "kid-3",
        ]

    def test_an_account_case_alone_is_a_valid_report_without_an_incident(
        self, reported_adult, reviewer, make_user, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        with transaction.atomic():
            escalation = escalation_open(case=reported_adult, reason="escalated", user=reviewer)
        approve_escalation(escalation, reviewer, make_user, incident_type=ENTICEMENT)
        entries = packet_entries(assemble(escalation))
        assert_every_document_valid(entries)
        root = etree.fromstring(entries["report.xml"])
        assert root.find("internetDetails") is None
        assert root.findtext("personOrUserReported/espIdentifier") == ADULT
        assert root.findtext("additionalInfo").startswith("Account case: Social Example")
        assert not escalation.files.exists()

    def test_a_reviewers_decision_on_the_account_case_makes_the_same_report(
        self, reported_adult, reviewer, make_user
    ):
        # As deployed: "Escalate to authority" on the account case gathers its evidence
        # (moderation/review/actions.py), the case held by the reviewer as a claim leaves it.
        Case.objects.filter(pk=reported_adult.pk).update(
            assignee=reviewer, lease_expires_at=timezone.now() + timedelta(minutes=15)
        )
        case_decide(
            case_id=reported_adult.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/grooming",
            intent="malicious",
        )
        escalation = Escalation.objects.get(cases=reported_adult)
        assert escalation.incident_type == ENTICEMENT
        approve_escalation(escalation, reviewer, make_user, incident_type=ENTICEMENT)
        entries = packet_entries(assemble(escalation))
        assert_every_document_valid(entries)
        root = etree.fromstring(entries["report.xml"])
        assert len(elements(root, "internetDetails/chatImIncident")) == 2
        assert [v.findtext("espIdentifier") for v in elements(root, "victim")] == [
            "kid-1",
            "kid-2",
        ]
        assert [p.findtext("espIdentifier") for p in elements(root, "personOrUserReported")] == [
            ADULT
        ]
        assert root.findtext("additionalInfo").startswith("Account case: ")

    def test_a_flag_raised_after_approval_does_not_change_the_reason(
        self, reported_adult, reviewer, make_user, submit_report, run_jobs
    ):
        escalation = escalate_account(reviewer, make_user)
        with run_jobs():  # a fourth thing reported: the rule flags the account again
            submit_report(category="grooming", platform_id="post-78", owner_id=ADULT)
        assert reported_adult.flags.count() == 2
        entries = packet_entries(assemble(escalation))
        info = etree.fromstring(entries["report.xml"]).findtext("additionalInfo")
        assert "3 different things it posted or sent" in info


def test_the_account_rules_source_is_the_one_the_packet_looks_for():
    assert cybertip_account.ACCOUNT_RULE_SOURCE == account_rules.ACCOUNT_RULE_SOURCE
