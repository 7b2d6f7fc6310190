"""Conversation reports for tests: payloads as the platform sends them (POST /api/v1/reports with
`conversation`), and the same through the intake service."""

from datetime import UTC, datetime, timedelta

from reports.content import ContentFacts
from reports.conversation_intake import conversation_report_submit
from reports.conversations import ConversationFacts, MessageFacts, ParticipantFacts

START = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)


def message_time(n: int) -> datetime:
    return START + timedelta(minutes=n)


def conversation_payload(
    *,
    conversation_id="conv-1",
    adult="adult-1",
    minor="minor-1",
    minor_age=13,
    messages=None,
    reported=(2,),
    **overrides,
) -> dict:
    """A grooming report: an adult (reported) writing to a 13-year-old, who reports it. Messages
    0..4 alternate between them; `reported` are the indexes pointed at."""
    if messages is None:
        lines = [
            (adult, "hey, you seem mature for your age"),
            (minor, "thanks i guess"),
            (adult, "don't tell your parents we talk, ok? send me a photo"),
            (minor, "why"),
            (adult, "add me on the other app, it's private"),
        ]
        messages = [
            {
                "id": f"{conversation_id}-m{i}",
                "sender_id": sender,
                "sent_at": message_time(i).isoformat(),
                "text": text,
                "reported": i in reported,
            }
            for i, (sender, text) in enumerate(lines)
        ]
    payload = {
        "content": {
            "id": conversation_id,
            "type": "conversation",
            "owner_id": adult,
            "owner_handle": "@smooth_talker",
        },
        "category": "grooming",
        "description": "Something's wrong",
        "reporter": {"kind": "platform_user", "account_id": minor},
        "conversation": {
            "participants": [
                {
                    "account_id": adult,
                    "handle": "@smooth_talker",
                    "age": 34,
                    "age_source": "estimated",
                },
                {"account_id": minor, "handle": "@kid", "age": minor_age, "age_source": "stated"},
            ],
            "messages": messages,
        },
    }
    payload.update(overrides)
    return payload


def report_conversation(
    *,
    conversation_id="conv-1",
    adult="adult-1",
    minor="minor-1",
    minor_age: int | None = 13,
    count=5,
    reported=(2,),
    attachments=None,
    texts=None,
    category="grooming",
    **kwargs,
):
    """A conversation report through the intake service (no HTTP): `count` messages alternating
    between the adult and the minor; `attachments` {index: [IncomingMedia]}."""
    attachments = attachments or {}
    messages = [
        MessageFacts(
            id=f"{conversation_id}-m{i}",
            sender_id=adult if i % 2 == 0 else minor,
            sent_at=message_time(i),
            text=(texts or {}).get(i, f"message {i}"),
            reported=i in reported,
            attachments=attachments.get(i, ()),
        )
        for i in range(count)
    ]
    return conversation_report_submit(
        category=category,
        reporter_kind="platform_user",
        source="api",
        content=ContentFacts(platform_id=conversation_id, owner_id=adult, owner_handle="@smooth"),
        conversation=ConversationFacts(
            participants=[
                ParticipantFacts(
                    account_id=adult, handle="@smooth", age=34, age_source="estimated"
                ),
                ParticipantFacts(
                    account_id=minor,
                    handle="@kid",
                    age=minor_age,
                    age_source="stated" if minor_age is not None else "",
                ),
            ],
            messages=messages,
        ),
        reporter_account_id=minor,
        actor_label="test",
        **kwargs,
    )
