"""A reported conversation's records: its participants and messages as a report gives them, and
storing them on the conversation's content item so that every report about it adds to one
thread. Messages arrive in any order and more than once (a later report sends the neighbours an
earlier one sent); each is stored once, and the thread is read in the order they were sent."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reports.media import IncomingMedia
from reports.models import ContentItem, Message, Participant, Report

# Written in batches: a conversation of 10,000 messages is 10 inserts, not 10,000.
BATCH = 1000


@dataclass(frozen=True)
class ParticipantFacts:
    account_id: str
    handle: str = ""
    display_name: str = ""
    age: int | None = None
    # "stated" or "estimated" when an age is given.
    age_source: str = ""
    email: str = ""


@dataclass(frozen=True)
class MessageFacts:
    id: str
    sender_id: str
    sent_at: datetime
    text: str = ""
    # The reporter pointed at it; otherwise it was sent for context.
    reported: bool = False
    attachments: Sequence[IncomingMedia] = ()


@dataclass(frozen=True)
class ConversationFacts:
    participants: Sequence[ParticipantFacts]
    messages: Sequence[MessageFacts]
    # The participant the report is about, and the one who made it, by account id ("" unknown).
    reported_id: str = ""
    reporter_id: str = ""


@dataclass
class StoredConversation:
    participants: dict[str, Participant]
    # How many of this report's messages were new.
    new_count: int = 0
    # Those of them whose text may hold a link (the only ones intake reads again), by platform id.
    new_with_links: dict[str, Message] = field(default_factory=dict)
    # Messages this report sent that were stored by an earlier one (or twice in this one).
    repeated: int = 0
    # Senders not among the participants listed (stored as participants all the same).
    unlisted: list[str] = field(default_factory=list)
    # Messages sent twice in this report with different contents: the first is kept.
    conflicting: list[str] = field(default_factory=list)

    @property
    def minors(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.role == Participant.Role.MINOR]


def conversation_store(
    *, item: ContentItem, facts: ConversationFacts, report: Report
) -> StoredConversation:
    """Add a report's participants and messages to the conversation. Call inside the report's
    transaction. What an earlier report stored stays: a participant's age is filled in, never
    overwritten, and a message once reported stays reported."""
    participants = _participants(item, facts)
    stored = StoredConversation(participants=participants)
    unique: dict[str, MessageFacts] = {}
    for message in facts.messages:
        first = unique.get(message.id)
        if first is None:
            unique[message.id] = message
            continue
        stored.repeated += 1
        if (first.sender_id, first.sent_at, first.text) != (
            message.sender_id,
            message.sent_at,
            message.text,
        ):
            stored.conflicting.append(message.id)
        if message.reported and not first.reported:
            unique[message.id] = _reported(first)
    stored.unlisted = sorted(
        {m.sender_id for m in unique.values() if m.sender_id not in participants}
    )
    for account_id in stored.unlisted:
        participants[account_id] = _participant_get_or_create(
            item, ParticipantFacts(account_id=account_id), listed=False
        )
    have = _existing_ids(item, list(unique))
    stored.repeated += len(have)
    new = [
        Message(
            conversation=item,
            platform_id=m.id,
            sender=participants[m.sender_id],
            sent_at=m.sent_at,
            text=m.text,
            reported=m.reported,
            report=report,
        )
        for m in unique.values()
        if m.id not in have
    ]
    # ignore_conflicts: a concurrent report of the same conversation may store the same message;
    # the ones this report wrote are read back by id below.
    Message.objects.bulk_create(new, batch_size=BATCH, ignore_conflicts=True)
    newly_reported = [m.id for m in unique.values() if m.reported and m.id in have]
    for start in range(0, len(newly_reported), BATCH):
        Message.objects.filter(
            conversation=item, platform_id__in=newly_reported[start : start + BATCH]
        ).update(reported=True)
    stored.new_count = len(new)
    # Read back only what intake reads on: the new messages that may hold a link.
    linking = [m.platform_id for m in new if "://" in m.text]
    if linking:
        stored.new_with_links = _by_platform_id(item, report, linking)
    return stored


def _reported(message: MessageFacts) -> MessageFacts:
    return MessageFacts(
        id=message.id,
        sender_id=message.sender_id,
        sent_at=message.sent_at,
        text=message.text,
        reported=True,
        attachments=message.attachments,
    )


def _participants(item: ContentItem, facts: ConversationFacts) -> dict[str, Participant]:
    participants = {}
    for p in facts.participants:
        participants[p.account_id] = _participant_get_or_create(item, p, listed=True)
    for account_id, flag in ((facts.reported_id, "reported"), (facts.reporter_id, "is_reporter")):
        participant = participants.get(account_id)
        if participant is not None and not getattr(participant, flag):
            setattr(participant, flag, True)
            participant.save(update_fields=[flag])
    return participants


def _participant_get_or_create(
    item: ContentItem, facts: ParticipantFacts, *, listed: bool
) -> Participant:
    age = facts.age
    participant, created = Participant.objects.get_or_create(
        conversation=item,
        account_id=facts.account_id,
        defaults={
            "handle": facts.handle,
            "display_name": facts.display_name,
            "age": age,
            "age_source": facts.age_source if age is not None else "",
            "role": Participant.role_for(age),
            "email": facts.email,
            "listed": listed,
        },
    )
    if created:
        return participant
    # Later reports may know more; they never overwrite what an earlier one said.
    changed = {
        name: value
        for name, value in (
            ("handle", facts.handle),
            ("display_name", facts.display_name),
            ("email", facts.email),
        )
        if value and not getattr(participant, name)
    }
    if age is not None and participant.age is None:
        changed.update(age=age, age_source=facts.age_source, role=Participant.role_for(age))
    if listed and not participant.listed:
        changed["listed"] = True
    for name, value in changed.items():
        setattr(participant, name, value)
    if changed:
        participant.save(update_fields=list(changed))
    return participant


def _existing_ids(item: ContentItem, ids: list[str]) -> set[str]:
    have: set[str] = set()
    for start in range(0, len(ids), BATCH):
        have.update(
            Message.objects.filter(
                conversation=item, platform_id__in=ids[start : start + BATCH]
            ).values_list("platform_id", flat=True)
        )
    return have


def _by_platform_id(item: ContentItem, report: Report, ids: list[str]) -> dict[str, Message]:
    found: dict[str, Message] = {}
    for start in range(0, len(ids), BATCH):
        found.update(
            (m.platform_id, m)
            for m in Message.objects.filter(
                conversation=item, report=report, platform_id__in=ids[start : start + BATCH]
            ).only("id", "platform_id", "text", "reported")
        )
    return found
