"""Escalated conversations for the CyberTipline tests: a conversation reported through the intake
service (reports.services.conversation_report_submit: participants, messages, attachments on
their messages, hashed by the real job), escalated by a reviewer's decision, written up, sent for
approval and approved by a senior reviewer; the test assembles the packet when it wants one."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from accounts.roles import Role
from moderation.cases.services import case_claim_next
from moderation.escalations.models import Escalation
from moderation.escalations.packet import escalation_assemble
from moderation.escalations.services import (
    escalation_approve,
    escalation_request_approval,
    escalation_update_details,
)
from moderation.review.services import case_decide
from reports.content import ContentFacts, IpCaptureIn
from reports.conversation_intake import conversation_report_submit
from reports.conversations import ConversationFacts, MessageFacts, ParticipantFacts
from reports.models import ContentItem, Message, Participant, Report

ENTICEMENT = "Online Enticement of Children for Sexual Acts"
CSAM = "Child Pornography (possession, manufacture, and distribution)"
START = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
OWNER_LOGIN = IpCaptureIn(
    ip="203.0.113.9", event="Login", captured_at=datetime(2026, 11, 20, 20, 55, tzinfo=UTC)
)
OWNER_UPLOAD = IpCaptureIn(
    ip="2001:db8::9", event="Upload", captured_at=datetime(2026, 11, 20, 21, 2, tzinfo=UTC)
)


@dataclass
class Person:
    """A participant. `reported` beyond the conversation's owner: named by a later report.
    `listed=False`: left out of the participants the report lists (only a message names it)."""

    account_id: str
    handle: str = ""
    display_name: str = ""
    age: int | None = None
    age_source: str = ""
    email: str = ""
    reported: bool = False
    is_reporter: bool = False
    listed: bool = True


@dataclass
class Said:
    """A message: `minute` after START, by `sender` (an account id), with `files` attachments."""

    id: str
    sender: str
    text: str
    minute: int = 0
    reported: bool = False
    files: int = 0


GROOMER = Person(
    "acct-groomer",
    handle="cool_coach",
    display_name="Coach Mike",
    age=34,
    age_source="stated",
    email="mike@mail.example",
    reported=True,
)
CHILD = Person(
    "acct-child",
    handle="skater_kid",
    display_name="Sam",
    age=13,
    age_source="estimated",
    email="sam@mail.example",
    is_reporter=True,
)
FRIEND = Person("acct-friend", handle="bystander", age=25, age_source="stated")
UNKNOWN = Person("acct-unknown", handle="quiet_one")

THREAD = [
    Said("m1", "acct-groomer", "hey, you skate at the park right?", 0),
    Said("m2", "acct-child", "yeah every day", 1),
    Said("m3", "acct-groomer", "send me a pic of you, just for me\nour secret ok?", 2, True),
    Said("m4", "acct-child", "idk", 3),
    Said("m5", "acct-groomer", "here is one of me", 4, files=1),
    Said("m6", "acct-child", "ok", 5, files=1),
    Said("m7", "acct-groomer", "delete this chat after", 6, True),
]


@dataclass
class Built:
    escalation: Escalation
    item: ContentItem
    report: Report

    def assemble(self) -> Escalation:
        result = escalation_assemble(escalation_id=self.escalation.pk)
        assert result is not None and result.status == "ready", self.escalation.failure_details
        self.escalation.refresh_from_db()
        return self.escalation

    @property
    def messages(self) -> dict[str, Message]:
        return {m.platform_id: m for m in Message.objects.filter(conversation=self.item)}

    @property
    def participants(self) -> dict[str, Participant]:
        return {p.account_id: p for p in Participant.objects.filter(conversation=self.item)}


@pytest.fixture
def conversation_escalation(make_user, reviewer, png_upload, run_jobs):
    """make(people=..., thread=..., **options) -> Built: an approved escalation (in ASSEMBLING)
    of a reported conversation, reported by the child. Options: category, incident_type, intent,
    classification, owner (the conversation's owner, the reported account), owner_email,
    ip_captures, extra_files (images of the report on no message), approve (False: left in
    draft, to gather more)."""
    counter = iter(range(1, 10_000))

    def make(
        people=(GROOMER, CHILD),
        thread=THREAD,
        *,
        category="grooming",
        incident_type=ENTICEMENT,
        intent="malicious",
        classification="",
        owner=GROOMER.account_id,
        owner_email="",
        ip_captures=(OWNER_LOGIN, OWNER_UPLOAD),
        extra_files=0,
        approve=True,
    ) -> Built:
        n = next(counter)
        colours = iter(range(1, 1000))

        def image():
            i = next(colours)
            return png_upload(name=f"chat-{n}-{i}.png", colour=(n * 40 % 256, i * 50 % 256, 99))

        messages = [
            MessageFacts(
                id=said.id,
                sender_id=said.sender,
                sent_at=START + timedelta(minutes=said.minute),
                text=said.text,
                reported=said.reported,
                attachments=[image() for _ in range(said.files)],
            )
            for said in thread
        ]
        with run_jobs():  # hashing the attachments
            reported = conversation_report_submit(
                category=category,
                involves_child=True,
                source=Report.Source.API,
                reporter_kind=Report.ReporterKind.PLATFORM_USER,
                reporter_account_id=CHILD.account_id,
                reporter_email="reporter-inbox@example.org",
                reporter_ip="198.51.100.200",
                content=ContentFacts(
                    platform_id=f"conv-{n}",
                    url=f"https://social.example/messages/conv-{n}",
                    owner_id=owner,
                    owner_handle=GROOMER.handle if owner == GROOMER.account_id else "",
                    owner_email=owner_email,
                    ip_captures=list(ip_captures),
                ),
                conversation=ConversationFacts(
                    participants=[
                        ParticipantFacts(
                            account_id=p.account_id,
                            handle=p.handle,
                            display_name=p.display_name,
                            age=p.age,
                            age_source=p.age_source if p.age is not None else "",
                            email=p.email,
                        )
                        for p in people
                        if p.listed
                    ],
                    messages=messages,
                ),
                images=[image() for _ in range(extra_files)],
                actor_label="test",
            )
        report = reported.report
        item = report.content_item
        also_reported = [p.account_id for p in people if p.reported and p.account_id != owner]
        Participant.objects.filter(conversation=item, account_id__in=also_reported).update(
            reported=True
        )
        case = case_claim_next(user=reviewer)
        assert case.content_item_id == item.pk
        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="escalate",
            policy=f"child-safety/{'sexual-exploitation' if classification else 'grooming'}",
            intent=intent,
            classification=classification,
        )
        escalation = Escalation.objects.get(cases=case)
        if approve:
            approve_escalation(escalation, reviewer, make_user, incident_type=incident_type)
        escalation.refresh_from_db()
        return Built(escalation, item, report)

    return make


def approve_escalation(escalation, reviewer, make_user, *, incident_type=ENTICEMENT):
    escalation_update_details(
        escalation_id=escalation.pk,
        user=reviewer,
        incident_type=incident_type,
        incident_summary="An adult asked a child for pictures and secrecy in direct messages.",
        annotations=[],
        urgent=False,
        urgent_reason="",
    )
    escalation_request_approval(escalation_id=escalation.pk, user=reviewer)
    approver = make_user(f"chat-senior-{escalation.pk}", Role.SENIOR_REVIEWER)
    escalation_approve(escalation_id=escalation.pk, user=approver)
    escalation.refresh_from_db()
    return escalation
