"""The API's shape of a reported conversation (POST /api/v1/reports with `conversation`), and
turning it into the facts intake stores (reports/conversations.py)."""

from typing import Annotated, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, StrictBool, model_validator

from lib.api import ApiError, Name, Text, Timestamp, strict_int
from reports.conversations import ConversationFacts, MessageFacts, ParticipantFacts
from reports.link_intake import usable_url
from reports.uploads import MediaIn, decode_media

MAX_PARTICIPANTS = 1000
MAX_MESSAGES = 10_000
MAX_MESSAGE_LENGTH = 10_000
# Files attached to a conversation's messages, in all (each message takes as many as a report).
MAX_ATTACHMENTS = 50
MAX_LINKS = 50


def _email(value: str) -> str:
    # Django's validator: the one the model field uses.
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise ValueError("not a usable e-mail address") from None
    return value


def _link(value: str) -> str:
    if not usable_url(value):
        raise ValueError("must be an http(s) URL of at most 2,000 characters")
    return value


Email = Annotated[Text(254), AfterValidator(_email)]
Link = Annotated[Text(2000, 1), AfterValidator(_link)]
Links = Field(
    default_factory=list,
    max_length=MAX_LINKS,
    description="Links to images or videos the report is about, e.g. shared in the content. "
    "Vigil fetches them (public addresses only, size and time limited) and hashes and matches "
    "what it finds like uploaded media. Links in `description` and in messages are found too.",
)


class ParticipantIn(Schema):
    account_id: Name(255, 1, description="The participant's account id on the platform.")
    handle: Name(255) = ""
    display_name: Name(255) = ""
    age: (
        Annotated[
            int,
            BeforeValidator(strict_int),
            Field(ge=0, le=130, description="Age in years, as stated or estimated."),
        ]
        | None
    ) = None
    age_source: Literal["stated", "estimated"] = Field(
        "stated",
        description="Whether `age` is what the account stated (e.g. at sign-up) or the "
        "platform's estimate. Without an age the participant's role is 'unknown'.",
    )
    email: Email = Field(
        "",
        description="The account's e-mail address as the platform holds it: reported to "
        "child-protection authorities for the reported account.",
    )


class MessageIn(Schema):
    id: Name(
        255,
        1,
        description="The message's id on the platform: a message sent again is the same message.",
    )
    sender_id: Name(255, 1, description="The sender's account_id.")
    sent_at: Timestamp = Field(description="When it was sent (ISO 8601 with a time zone).")
    text: Text(MAX_MESSAGE_LENGTH) = ""
    reported: StrictBool = Field(
        False,
        description="The reporter pointed at this message; false for neighbours sent for context.",
    )
    attachments: list[MediaIn] = Field(
        default_factory=list, max_length=settings.MAX_MEDIA_PER_REPORT
    )


class ConversationIn(Schema):
    participants: list[ParticipantIn] = Field(min_length=1, max_length=MAX_PARTICIPANTS)
    messages: list[MessageIn] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        description=f"The reported messages and their neighbours, in any order (up to "
        f"{MAX_MESSAGES:,}). Messages from a sender not among `participants` are kept, and the "
        "sender added with an unknown age (the answer's `warnings` say so).",
    )
    reported_account_id: Name(
        255,
        description="The participant the report is about; defaults to `content.owner_id`.",
    ) = ""

    @model_validator(mode="after")
    def _checked(self):
        seen = set()
        for p in self.participants:
            if p.account_id in seen:
                raise ValueError(f"participant {p.account_id!r} is listed twice")
            seen.add(p.account_id)
        attachments = sum(len(m.attachments) for m in self.messages)
        if attachments > MAX_ATTACHMENTS:
            raise ValueError(
                f"{attachments} attachments: at most {MAX_ATTACHMENTS} in one conversation report"
            )
        return self


def conversation_facts(conversation: ConversationIn) -> ConversationFacts:
    """The conversation as intake stores it, every attachment decoded and checked first (all or
    nothing, located in the request: ["conversation", "messages", i, "attachments", j])."""
    messages = []
    for i, m in enumerate(conversation.messages):
        try:
            files = decode_media(m.attachments, path="attachments")
        except ApiError as e:
            loc = ["conversation", "messages", i, *e.detail["loc"]]
            raise ApiError(e.status, e.error, {**e.detail, "loc": loc}) from None
        messages.append(
            MessageFacts(
                id=m.id,
                sender_id=m.sender_id,
                sent_at=m.sent_at,
                text=m.text,
                reported=m.reported,
                attachments=files,
            )
        )
    return ConversationFacts(
        participants=[
            ParticipantFacts(
                account_id=p.account_id,
                handle=p.handle,
                display_name=p.display_name,
                age=p.age,
                age_source=p.age_source if p.age is not None else "",
                email=p.email,
            )
            for p in conversation.participants
        ],
        messages=messages,
        reported_id=conversation.reported_account_id,
    )
