"""A reported conversation for the review console's tests, through the intake service
(reports.services.conversation_report_submit), as the platform's API would send it.

The messages are sent newest first, so they are stored in an order other than the one they were
sent in: a thread drawn in storage order would be wrong."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reports.content import ContentFacts
from reports.conversation_intake import conversation_report_submit
from reports.conversations import ConversationFacts, MessageFacts, ParticipantFacts
from reports.models import Message, Participant, Report

SENT = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
ADULT, MINOR, STRANGER = "acct-adult", "acct-minor", "acct-stranger"


@dataclass
class Conversation:
    report: Report

    @property
    def case(self):
        return self.report.case

    @property
    def item(self):
        return self.report.content_item

    def participant(self, account_id: str) -> Participant:
        return Participant.objects.get(conversation=self.item, account_id=account_id)

    @property
    def adult(self) -> Participant:
        return self.participant(ADULT)

    @property
    def minor(self) -> Participant:
        return self.participant(MINOR)

    @property
    def unlisted(self) -> Participant:
        return self.participant(STRANGER)

    def messages(self):
        return Message.objects.filter(conversation=self.item).order_by("sent_at", "pk")


def sender(i: int) -> str:
    """Messages alternate between the adult (even) and the minor (odd); every 7th is from an
    account the report does not list among the participants."""
    if i % 7 == 6:
        return STRANGER
    return ADULT if i % 2 == 0 else MINOR


def conversation_case(
    *,
    size: int = 3,
    reported=(1,),
    attachments=None,
    images=(),
    platform_id: str = "conv-1",
    category: str = "grooming",
    text=None,
    **report_fields,
) -> Conversation:
    """A conversation of `size` messages (m-0 ... sent a second apart) between a reported adult
    of 34 (estimated) and a 13-year-old (stated) who reports it, with the messages at the
    indexes in `reported` pointed at. `attachments`: {index: [IncomingMedia]} on messages;
    `images`: files sent with the report itself. `text(i)`: message i's text."""
    messages = [
        MessageFacts(
            id=f"m-{i}",
            sender_id=sender(i),
            sent_at=SENT + timedelta(seconds=i),
            text=text(i) if text else f"message number {i}",
            reported=i in reported,
            attachments=(attachments or {}).get(i, ()),
        )
        for i in reversed(range(size))
    ]
    fields = {"reporter_account_id": MINOR, "actor_label": "test", **report_fields}
    reported_ = conversation_report_submit(
        category=category,
        reporter_kind="platform_user",
        source="api",
        content=ContentFacts(
            platform_id=platform_id,
            url=f"https://social.example/messages/{platform_id}",
            owner_id=ADULT,
            owner_handle="grown.up",
        ),
        conversation=ConversationFacts(
            participants=[
                ParticipantFacts(
                    account_id=ADULT,
                    handle="grown.up",
                    display_name="Grown Up",
                    age=34,
                    age_source="estimated",
                ),
                ParticipantFacts(account_id=MINOR, handle="kiddo", age=13, age_source="stated"),
            ],
            messages=messages,
        ),
        images=list(images),
        **fields,
    )
    return Conversation(report=reported_.report)
