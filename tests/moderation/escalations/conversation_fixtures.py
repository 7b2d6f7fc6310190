"""Escalated conversations for the CyberTipline tests: a conversation reported through the intake
service (its attachments hashed by the real job), its participants and messages as
reports.models rows, escalated by a reviewer's decision, written up, sent for approval and
approved by a senior reviewer; the test assembles the packet when it wants one.

Until the conversation intake (reports.services.conversation_report_submit) lands, the
participants and messages are made with the ORM on the report's content item, as it will store
them: a Participant per account (role from its age), a Message per platform id with the report
that brought it, attachments as the report's Media with `message` set."""

from dataclasses import dataclass, field
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
from reports.content import IpCaptureIn
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
    participants: dict[str, Participant] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)

    def assemble(self) -> Escalation:
        result = escalation_assemble(escalation_id=self.escalation.pk)
        assert result is not None and result.status == "ready", self.escalation.failure_details
        self.escalation.refresh_from_db()
        return self.escalation


def store_thread(item, report, people, thread, *, start=START):
    """Participants and messages as the conversation intake stores them (one Participant per
    account, one Message per platform id, attachments as the report's media in order)."""
    participants = {
        p.account_id: Participant.objects.create(
            conversation=item,
            account_id=p.account_id,
            handle=p.handle,
            display_name=p.display_name,
            age=p.age,
            age_source=p.age_source if p.age is not None else "",
            role=Participant.role_for(p.age),
            email=p.email,
            reported=p.reported,
            is_reporter=p.is_reporter,
            listed=p.listed,
        )
        for p in people
    }
    Message.objects.bulk_create(
        [
            Message(
                conversation=item,
                platform_id=said.id,
                sender=participants[said.sender],
                sent_at=start + timedelta(minutes=said.minute),
                text=said.text,
                reported=said.reported,
                report=report,
            )
            for said in thread
        ],
        batch_size=1000,
    )
    media = list(report.media.order_by("pk"))
    messages = {m.platform_id: m for m in Message.objects.filter(conversation=item)}
    for said in thread:
        for _ in range(said.files):
            attachment = media.pop(0)
            attachment.message = messages[said.id]
            attachment.save(update_fields=["message"])
    return participants, messages


@pytest.fixture
def conversation_escalation(make_user, reviewer, submit_report, png_upload, run_jobs):
    """make(people=..., thread=..., **options) -> Built: an approved escalation (in ASSEMBLING)
    of a reported conversation. Options: category, incident_type, intent, classification,
    owner_email, ip_captures, owner (the conversation's owner_id), extra_files (media of the
    report attached to no message)."""
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
        files = sum(s.files for s in thread) + extra_files
        uploads = [
            png_upload(name=f"chat-{n}-{i}.png", colour=(n * 40 % 256, i * 50 % 256, 99))
            for i in range(files)
        ]
        with run_jobs():  # hashing the attachments
            report = submit_report(
                category=category,
                involves_child=True,
                source=Report.Source.API,
                reporter_kind=Report.ReporterKind.PLATFORM_USER,
                reporter_account_id=CHILD.account_id,
                reporter_email="reporter-inbox@example.org",
                reporter_ip="198.51.100.200",
                content_type="conversation",
                platform_id=f"conv-{n}",
                content_url=f"https://social.example/messages/conv-{n}",
                owner_id=owner,
                owner_handle=GROOMER.handle if owner == GROOMER.account_id else "",
                ip_captures=list(ip_captures),
                images=uploads,
            )
        item = report.content_item
        if owner_email:
            ContentItem.objects.filter(pk=item.pk).update(owner_email=owner_email)
            item.refresh_from_db()
        participants, messages = store_thread(item, report, people, thread)
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
        return Built(escalation, item, report, participants, messages)

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
