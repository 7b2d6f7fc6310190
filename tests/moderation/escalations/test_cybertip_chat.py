"""The CyberTipline report for conversations (issue 19; Coop's #846, #843, #661): a chat incident
with an excerpt of the thread, the reported account with its e-mail and IP captures, the
intended recipients (minors first) and a victim block per minor, fileDetails that say which
message carried each file and the annotations Vigil has grounds for. Every document is checked
against the vendored schema with lxml."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from lxml import etree

from moderation.decisions.models import Decision
from moderation.escalations import cybertip
from moderation.escalations import cybertip_chat as chat
from reports.models import Message, Participant
from tests.moderation.escalations.conversation_fixtures import (
    CHILD,
    CSAM,
    ENTICEMENT,
    FRIEND,
    GROOMER,
    OWNER_LOGIN,
    OWNER_UPLOAD,
    START,
    THREAD,
    UNKNOWN,
    Person,
    Said,
    conversation_escalation,
)
from tests.moderation.packet_helpers import approved

__all__ = ["approved", "conversation_escalation"]


def valid_tree(xml: bytes) -> etree._Element:
    assert cybertip.validate(xml) == [], xml.decode()
    # Against the vendored XSD directly too: the same schema NCMEC publishes.
    schema = etree.XMLSchema(etree.parse(str(cybertip.SCHEMA_PATH)))
    root = etree.fromstring(xml)
    assert schema.validate(root), schema.error_log
    return root


def report(built) -> etree._Element:
    return valid_tree(cybertip.report_xml(built.escalation))


def details(escalation) -> dict[str, etree._Element]:
    """Each file's fileDetails, by the name of the message that carried it (or the file's)."""
    out = {}
    for f in escalation.files.select_related("media__content_item", "media__message"):
        root = valid_tree(cybertip.file_details_xml(f, report_id=0, file_id=f.name))
        out[f.media.message.platform_id if f.media.message_id else f.name] = root
    return out


def people(root, tag) -> list[tuple]:
    return [
        (e.findtext("espIdentifier"), e.findtext("screenName"), e.findtext(f"{tag}Person/age"))
        for e in root.findall(tag)
    ]


@pytest.mark.django_db
class TestChatIncident:
    def test_it_is_a_chat_incident_with_the_reported_messages_in_order(
        self, conversation_escalation, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        built = conversation_escalation()
        built.assemble()
        root = report(built)
        assert root.findtext("incidentSummary/incidentType") == ENTICEMENT
        assert root.find("internetDetails/webPageIncident") is None
        incident = root.find("internetDetails/chatImIncident")
        assert [e.tag for e in incident] == ["chatClient", "content", "additionalInfo"]
        assert incident.findtext("chatClient") == "Social Example"
        lines = incident.findtext("content").split("\n")
        # A short thread is shown whole: time, sender, reported mark, continuation lines indented.
        assert lines[0] == "[2026-11-20T21:00:00Z] cool_coach: hey, you skate at the park right?"
        assert lines[2] == (
            "[2026-11-20T21:02:00Z] cool_coach (reported): send me a pic of you, just for me"
        )
        assert lines[3] == "    our secret ok?"
        assert lines[-1] == "[2026-11-20T21:06:00Z] cool_coach (reported): delete this chat after"
        files = {
            f.media.message.platform_id: chat.report_file_name(f.name)
            for f in built.escalation.files.select_related("media__message")
        }
        assert f"here is one of me [file: {files['m5']}]" in lines[5]
        assert f"skater_kid: ok [file: {files['m6']}]" in lines[6]
        words = incident.findtext("additionalInfo")
        assert (
            f"Conversation {built.item.platform_id} on Social Example ({built.item.url})" in words
        )
        assert "7 messages (2 reported)" in words
        assert "the whole conversation" in words
        # The incident is dated by the earliest reported message.
        assert root.findtext("incidentSummary/incidentDateTime") == "2026-11-20T21:02:00Z"
        assert "earliest reported message" in root.findtext(
            "incidentSummary/incidentDateTimeDescription"
        )

    def test_the_reported_account_carries_its_e_mail_age_and_ip_captures(
        self, conversation_escalation
    ):
        built = conversation_escalation(owner_email="owner@platform-records.example")
        reported = report(built).findall("personOrUserReported")
        assert len(reported) == 1
        [person] = reported
        assert [e.tag for e in person] == [
            "personOrUserReportedPerson",
            "espIdentifier",
            "espService",
            "screenName",
            "displayName",
            "ipCaptureEvent",
            "ipCaptureEvent",
            "additionalInfo",
        ]
        assert [e.text for e in person.findall("personOrUserReportedPerson/email")] == [
            "owner@platform-records.example",
            GROOMER.email,
        ]
        assert person.findtext("personOrUserReportedPerson/age") == "34"
        assert person.findtext("espIdentifier") == GROOMER.account_id
        assert person.findtext("screenName") == GROOMER.handle
        assert person.findtext("displayName") == GROOMER.display_name
        events = [
            (e.findtext("ipAddress"), e.findtext("eventName"))
            for e in person.findall("ipCaptureEvent")
        ]
        assert events == [(OWNER_LOGIN.ip, "Login"), (OWNER_UPLOAD.ip, "Upload")]
        assert "an adult, aged 34 as stated on" in person.findtext("additionalInfo")

    def test_a_minor_is_an_intended_recipient_and_a_victim_ahead_of_adults(
        self, conversation_escalation, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        thread = [*THREAD, Said("m8", "acct-friend", "who is this", 7)]
        built = conversation_escalation(people=(GROOMER, FRIEND, CHILD), thread=thread)
        root = report(built)
        # Minors first, though the adult was recorded first.
        assert people(root, "intendedRecipient") == [
            (CHILD.account_id, CHILD.handle, "13"),
            (FRIEND.account_id, FRIEND.handle, "25"),
        ]
        assert people(root, "victim") == [(CHILD.account_id, CHILD.handle, "13")]
        [victim] = root.findall("victim")
        assert [e.tag for e in victim] == [
            "victimPerson",
            "espIdentifier",
            "espService",
            "screenName",
            "displayName",
            "additionalInfo",
        ]
        assert victim.findtext("victimPerson/email") == CHILD.email
        assert victim.findtext("espService") == "Social Example"
        assert victim.findtext("displayName") == CHILD.display_name
        assert "a minor, aged about 13 as estimated by Social Example" in victim.findtext(
            "additionalInfo"
        )
        # Schema order: reporter, reported, recipients, victims, then the summary.
        assert [e.tag for e in root][-6:] == [
            "reporter",
            "personOrUserReported",
            "intendedRecipient",
            "intendedRecipient",
            "victim",
            "additionalInfo",
        ]

    def test_a_participant_of_unknown_age_is_a_recipient_not_a_victim(
        self, conversation_escalation
    ):
        thread = [Said("u1", "acct-groomer", "you up?", 0, True), Said("u2", "acct-unknown", "?")]
        built = conversation_escalation(people=(GROOMER, UNKNOWN), thread=thread)
        root = report(built)
        [recipient] = root.findall("intendedRecipient")
        # No age and no e-mail: no person element at all (the schema's are all optional).
        assert [e.tag for e in recipient] == [
            "espIdentifier",
            "espService",
            "screenName",
            "additionalInfo",
        ]
        assert "age unknown" in recipient.findtext("additionalInfo")
        assert root.find("victim") is None

    def test_an_unlisted_sender_is_said_to_be_one(self, conversation_escalation):
        stranger = Person("acct-stranger", handle="who", listed=False)
        thread = [Said("s1", "acct-groomer", "hi", 0, True), Said("s2", "acct-stranger", "hey")]
        built = conversation_escalation(people=(GROOMER, stranger), thread=thread)
        [recipient] = report(built).findall("intendedRecipient")
        assert "Named only as the sender of a message" in recipient.findtext("additionalInfo")

    def test_who_reported_the_conversation_is_never_said(self, conversation_escalation):
        built = conversation_escalation()
        before = cybertip.report_xml(built.escalation)
        # The child reported it (the intake marked their participant).
        assert Participant.objects.filter(is_reporter=True).update(is_reporter=False) == 1
        assert cybertip.report_xml(built.escalation) == before
        for trace in ("reporter-inbox@example.org", "198.51.100.200"):
            assert trace.encode() not in before

    def test_a_second_reported_participant_is_reported_too(self, conversation_escalation):
        accomplice = Person("acct-accomplice", handle="helper", reported=True)
        thread = [Said("a1", "acct-groomer", "hi", 0, True), Said("a2", "acct-accomplice", "yo")]
        built = conversation_escalation(people=(GROOMER, accomplice, CHILD), thread=thread)
        root = report(built)
        assert [e.findtext("espIdentifier") for e in root.findall("personOrUserReported")] == [
            GROOMER.account_id,
            "acct-accomplice",
        ]
        assert people(root, "intendedRecipient") == [(CHILD.account_id, CHILD.handle, "13")]

    def test_messages_received_after_approval_are_left_out(self, conversation_escalation):
        built = conversation_escalation()
        late = Message.objects.create(
            conversation=built.item,
            platform_id="late",
            sender=built.participants[GROOMER.account_id],
            sent_at=START - timedelta(days=1),
            text="a message stored after the approval",
            reported=True,
            report=built.report,
            created_at=built.escalation.approved_at + timedelta(seconds=1),
        )
        root = report(built)
        assert late.text not in root.findtext("internetDetails/chatImIncident/content")
        assert "7 messages (2 reported)" in root.findtext(
            "internetDetails/chatImIncident/additionalInfo"
        )
        assert root.findtext("incidentSummary/incidentDateTime") == "2026-11-20T21:02:00Z"


@pytest.mark.django_db
class TestLongConversation:
    def long_thread(self, n, reported=(5000,)):
        return [
            Said(
                f"x{i}",
                "acct-groomer" if i % 2 else "acct-child",
                f"message number {i} " + "words " * 30,
                i,
                i in reported,
            )
            for i in range(n)
        ]

    def test_the_excerpt_stays_bounded_and_says_where_the_thread_is(
        self, conversation_escalation, settings
    ):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        built = conversation_escalation(
            thread=self.long_thread(10_000, reported=(10, 11, 5000, 9999))
        )
        root = report(built)
        content = root.findtext("internetDetails/chatImIncident/content")
        assert len(content) <= chat.CHAT_CONTENT_MAX_CHARS
        for reported in (10, 11, 5000, 9999):
            assert f"(reported): message number {reported} " in content
        # Neighbours of a reported message, then a gap marker for what is left out.
        assert "message number 4999 " in content and "message number 5001 " in content
        assert "messages not shown …]" in content
        lines = [line for line in content.split("\n") if line.startswith("[2026")]
        numbers = [int(line.split("message number ")[1].split()[0]) for line in lines]
        assert numbers == sorted(numbers)
        words = root.findtext("internetDetails/chatImIncident/additionalInfo")
        assert "10000 messages (4 reported)" in words
        assert f"shows {len(lines)} of them" in words
        # The file the authority receives with the report, and where the packet has it.
        assert (
            "is the file conversation-0001.txt sent with this report (conversation/0001.txt in "
            "Social Example's packet for it)."
        ) in words

    def test_a_long_message_is_shortened_in_the_excerpt(self, conversation_escalation):
        thread = [Said("big", "acct-groomer", "x" * 9000, 0, True)]
        built = conversation_escalation(thread=thread)
        root = report(built)
        content = root.findtext("internetDetails/chatImIncident/content")
        assert len(content) <= chat.MESSAGE_MAX_CHARS + 100 and content.endswith("x […]")
        words = root.findtext("internetDetails/chatImIncident/additionalInfo")
        assert (
            "shows all of them, in the order they were sent (times UTC); 1 long message " in words
        )
        assert "conversation/0001.txt" in words

    def test_without_a_reported_message_the_thread_starts_the_excerpt(
        self, conversation_escalation
    ):
        built = conversation_escalation(thread=self.long_thread(500, reported=()))
        content = report(built).findtext("internetDetails/chatImIncident/content")
        assert content.startswith("[2026-11-20T21:00:00Z] skater_kid: message number 0 ")
        assert content.endswith("messages not shown …]")

    def test_the_report_takes_as_many_queries_for_ten_thousand_messages_as_for_ten(
        self, conversation_escalation
    ):
        def queries(n):
            built = conversation_escalation(thread=self.long_thread(n, reported=(n // 2,)))
            with CaptureQueriesContext(connection) as captured:
                cybertip.report_xml(built.escalation)
            return len(captured)

        assert queries(10) == queries(10_000)


@pytest.mark.django_db
class TestFileDetails:
    def test_each_file_says_which_message_carried_it(self, conversation_escalation, settings):
        settings.VIGIL_PLATFORM_NAME = "Social Example"
        built = conversation_escalation()
        built.assemble()
        files = details(built.escalation)
        assert set(files) == {"m5", "m6"}
        sent = built.messages["m6"].sent_at
        notes = [e.text for e in files["m6"].findall("additionalInfo")]
        assert notes == [
            f"Sent as an attachment to message m6 of the conversation {built.item.platform_id} "
            f"on Social Example, by skater_kid (account {CHILD.account_id}, a minor, aged about "
            f"13 as estimated by Social Example), at {cybertip.xml_datetime(sent)}."
        ]
        assert files["m6"].findtext("uploadedToEspTimestamp") == cybertip.xml_datetime(sent)
        assert files["m6"].findtext("locationOfFile") == built.item.url

    def test_only_the_owners_own_upload_carries_its_upload_capture(self, conversation_escalation):
        built = conversation_escalation()
        built.assemble()
        files = details(built.escalation)
        # The groomer sent m5 (21:04): the owner's Upload capture nearest that time.
        assert files["m5"].findtext("ipCaptureEvent/ipAddress") == OWNER_UPLOAD.ip
        # The child sent m6: the owner's IP addresses say nothing about that upload.
        assert files["m6"].find("ipCaptureEvent") is None

    def test_a_file_of_a_context_message_is_supplemental(self, conversation_escalation):
        built = conversation_escalation()
        built.assemble()
        files = details(built.escalation)
        # m5 and m6 were sent for context, not reported.
        assert files["m5"].findtext("fileRelevance") == "Supplemental Reported"
        Message.objects.filter(platform_id="m5").update(reported=True)
        assert details(built.escalation)["m5"].find("fileRelevance") is None

    def test_a_classified_file_a_minor_sent_is_possibly_self_produced(
        self, conversation_escalation
    ):
        built = conversation_escalation(
            category="sextortion", incident_type=ENTICEMENT, classification="B2"
        )
        built.assemble()
        files = details(built.escalation)
        child_sent = files["m6"]
        assert [e.tag for e in child_sent.find("fileAnnotations")] == ["possibleSelfProduction"]
        assert child_sent.findtext("fileAnnotations/possibleSelfProduction") == "true"
        assert child_sent.find("potentialMeme") is None
        assert child_sent.findtext("industryClassification") == "B2"
        # Classified, so what was reported, though a context message carried it.
        assert child_sent.find("fileRelevance") is None
        # The adult's own file: no grounds for the tag; the reviewer judged the intent malicious.
        adult_sent = files["m5"]
        assert adult_sent.find("fileAnnotations") is None
        assert adult_sent.findtext("potentialMeme") == "false"

    def test_a_non_malicious_sharing_is_a_meme_among_the_annotations(self, conversation_escalation):
        built = conversation_escalation(
            category="csam", incident_type=CSAM, classification="B2", intent="non_malicious"
        )
        built.assemble()
        child_sent = details(built.escalation)["m6"]
        assert [e.tag for e in child_sent.find("fileAnnotations")] == [
            "potentialMeme",
            "possibleSelfProduction",
        ]

    def test_without_a_classification_a_childs_file_has_no_annotation(
        self, conversation_escalation
    ):
        built = conversation_escalation()
        built.assemble()
        assert details(built.escalation)["m6"].find("fileAnnotations") is None

    def test_a_decision_about_one_message_classifies_only_its_files(
        self, conversation_escalation, reviewer
    ):
        built = conversation_escalation()
        case = built.escalation.cases.get()
        Decision.objects.create(
            case=case,
            reviewer=reviewer,
            action=Decision.Action.ESCALATE,
            policy="child-safety/sexual-exploitation",
            intent="malicious",
            classification="A2",
            target=Decision.Target.MESSAGE,
            target_ref="m6",
        )
        built.assemble()
        files = details(built.escalation)
        assert files["m6"].findtext("industryClassification") == "A2"
        # m5 is described by the decision on the whole conversation (no classification).
        assert files["m5"].find("industryClassification") is None
        # A decision about a message makes its file what was reported.
        assert files["m6"].find("fileRelevance") is None

    def test_a_file_found_at_a_link_in_a_message_is_located_there(
        self, conversation_escalation, settings
    ):
        from reports.models import Link

        settings.VIGIL_PLATFORM_NAME = "Social Example"
        built = conversation_escalation(extra_files=1)
        media = built.report.media.filter(message__isnull=True).get()
        Link.objects.create(
            content_item=built.item,
            report=built.report,
            message=built.messages["m7"],
            url="https://files.example/x.png",
            url_key="k",
            status="fetched",
            media=media,
        )
        built.assemble()
        f = built.escalation.files.get(media=media)
        root = valid_tree(cybertip.file_details_xml(f, report_id=0, file_id=f.name))
        assert root.findtext("locationOfFile") == "https://files.example/x.png"
        assert root.findtext("additionalInfo").startswith(
            "Found at a link (https://files.example/x.png) sent in message m7 of the conversation"
        )
        assert root.find("ipCaptureEvent") is None
        # m7 was reported: the file is what was reported.
        assert root.find("fileRelevance") is None

    def test_prefetched_contexts_give_the_same_documents_in_four_queries(
        self, conversation_escalation, django_assert_num_queries
    ):
        built = conversation_escalation()
        built.assemble()
        files = list(built.escalation.files.select_related("media__content_item"))
        with django_assert_num_queries(4):
            contexts = cybertip.file_details_contexts(files)
        for f in files:
            alone = cybertip.file_details_xml(f, report_id=0, file_id=f.name)
            batched = cybertip.file_details_xml(
                f, report_id=0, file_id=f.name, context=contexts[f.pk]
            )
            assert batched == alone


@pytest.mark.django_db
class TestEveryIncidentKind:
    def test_a_web_page_incident_carries_the_owners_e_mail_and_ip_captures(self, approved):
        from reports.content import IpCaptureIn

        capture = IpCaptureIn(ip="192.0.2.44", event="Login", captured_at=START)
        escalation = approved(ip_captures=[capture])
        item = escalation.cases.get().content_item
        type(item).objects.filter(pk=item.pk).update(owner_email="poster@mail.example")
        root = valid_tree(cybertip.report_xml(escalation))
        assert root.find("internetDetails/webPageIncident") is not None
        assert root.find("internetDetails/chatImIncident") is None
        reported = root.find("personOrUserReported")
        assert reported.findtext("personOrUserReportedPerson/email") == "poster@mail.example"
        assert reported.findtext("ipCaptureEvent/ipAddress") == "192.0.2.44"
        assert root.find("intendedRecipient") is None and root.find("victim") is None

    def test_a_post_and_a_conversation_of_one_account_make_two_incidents(
        self, conversation_escalation, submit_report, reviewer, make_user, png_upload, run_jobs
    ):
        from moderation.cases.services import case_claim_next
        from moderation.review.services import case_decide
        from tests.moderation.escalations.conversation_fixtures import approve_escalation

        with run_jobs():
            submit_report(
                category="csam",
                involves_child=True,
                platform_id="post-9",
                content_url="https://social.example/p/9",
                owner_id=GROOMER.account_id,
                images=[png_upload(name="post.png", colour=(1, 2, 3))],
            )
        case = case_claim_next(user=reviewer)
        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="malicious",
            classification="A1",
        )
        built = conversation_escalation(approve=False)
        assert built.escalation.cases.count() == 2
        approve_escalation(built.escalation, reviewer, make_user)
        built.assemble()
        root = report(built)
        assert root.findtext("internetDetails/webPageIncident/url") == "https://social.example/p/9"
        assert root.find("internetDetails/chatImIncident/content") is not None
        # Every file's fileDetails is valid, the post's image and both attachments.
        assert len(details(built.escalation)) == built.escalation.files.count() == 3
