"""Intake of a reported conversation (docs/conversations.md): the report, its participants and
messages (reports/conversations.py), its attachments on their messages, the links in it, and the
accounts it may tip into an account case."""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.db import transaction

from reports.content import ContentFacts, content_item_find
from reports.conversations import (
    BATCH,
    ConversationFacts,
    MessageFacts,
    StoredConversation,
    conversation_store,
)
from reports.link_intake import extract_urls, links_record
from reports.media import IncomingMedia
from reports.models import ContentItem, Media, Message, Participant, Report
from reports.services import (
    MAX_LINKS_PER_REPORT,
    accounts_check_later,
    record_links,
    report_received,
    report_record,
    store_media_rows,
)

# What an item reported before may be for a conversation report to add to: one reported without
# a type is taken to be the conversation.
CONVERSATION_TYPES = (ContentItem.Type.CONVERSATION, ContentItem.Type.OTHER)


class NotAConversation(Exception):
    """The content named is known as something else (a post, an image, an account): a
    conversation's participants and messages do not belong on it. Nothing was written."""

    def __init__(self, kind: str):
        super().__init__(
            f"The content with this id or URL is known as a {kind}, not a conversation."
        )
        self.kind = kind


@dataclass(frozen=True)
class ConversationReported:
    report: Report
    conversation: StoredConversation
    # What was set aside or repaired, for the caller: [{"field", "code", "detail"}].
    warnings: list[dict]


def conversation_report_submit(
    *,
    category: str,
    reporter_kind: str,
    source: str,
    content: ContentFacts,
    conversation: ConversationFacts,
    description: str = "",
    involves_child: bool = False,
    images: Sequence[IncomingMedia] = (),
    links: Sequence[str] = (),
    reporter_account_id: str = "",
    reporter_email: str = "",
    reporter_notify: bool = False,
    reporter_ip: str | None = None,
    submitted_by=None,
    actor_label: str = "public form",
) -> ConversationReported:
    """Accept a report about a conversation: the conversation rolls up into one case however
    many reports send it, each adding the participants and messages it knows (each message
    stored once, whatever order they come in). A minor among the participants makes the case one
    involving a child. A reporter whose account is a participant is marked as such on the
    participant; who they are stays in ReporterIdentity. Attachments are stored, hashed and
    matched as any media; links in the messages and the description are fetched."""
    participant_ids = {p.account_id for p in conversation.participants}
    reporter_id = conversation.reporter_id or (
        reporter_account_id if reporter_account_id in participant_ids else ""
    )
    facts = replace(
        conversation,
        reporter_id=reporter_id,
        reported_id=conversation.reported_id or content.owner_id,
    )
    content = replace(content, type=ContentItem.Type.CONVERSATION)
    involves_child = involves_child or any(
        Participant.role_for(p.age) == Participant.Role.MINOR for p in facts.participants
    )
    existing = content_item_find(content)
    if existing is not None and existing.type not in CONVERSATION_TYPES:
        raise NotAConversation(existing.get_type_display().lower())
    attachments = [a for m in facts.messages for a in m.attachments]
    notify = reporter_notify and bool(reporter_email)
    with transaction.atomic(durable=True):
        item, case, outcome, report = report_record(
            content=content,
            category=category,
            description=description,
            involves_child=involves_child,
            images=[*images, *attachments],
            reporter_kind=reporter_kind,
            reporter_account_id=reporter_account_id,
            reporter_email=reporter_email,
            reporter_ip=reporter_ip,
            notify=notify,
            source=source,
            submitted_by=submitted_by,
            actor_label=actor_label,
            news=_conversation_news(content, facts),
        )
        if item.type != ContentItem.Type.CONVERSATION:
            # Reported before without a type ("other"): it is a conversation, now Vigil knows.
            ContentItem.objects.filter(pk=item.pk).update(type=ContentItem.Type.CONVERSATION)
            item.type = ContentItem.Type.CONVERSATION
        stored = conversation_store(item=item, facts=facts, report=report)
        media = store_media_rows(images, content_item=item, report=report)
        media += _store_attachments(item, report, facts.messages)
        link_count = _record_conversation_links(item, report, stored, description, links)
        report_received(
            report=report,
            outcome=outcome,
            media=media,
            notify=notify,
            actor_label=actor_label,
            after={
                "conversation": {
                    "participants": len(stored.participants),
                    "messages_new": stored.new_count,
                    "messages_repeated": stored.repeated,
                    "senders_not_listed": len(stored.unlisted),
                    "links": link_count,
                },
            },
        )
        accounts_check_later(account_ids=_accounts_to_check(content, facts, stored))
    return ConversationReported(
        report=report, conversation=stored, warnings=_conversation_warnings(stored)
    )


def _conversation_news(content: ContentFacts, facts: ConversationFacts) -> tuple[str, ...]:
    """Messages reported that were not reported before: on a decided conversation they are
    something new to decide."""
    reported = {m.id for m in facts.messages if m.reported}
    if not reported or not content.platform_id:
        return ()
    ids, known = list(reported), set()
    for start in range(0, len(ids), BATCH):
        known.update(
            Message.objects.filter(
                conversation__platform_id=content.platform_id,
                conversation__type=ContentItem.Type.CONVERSATION,
                platform_id__in=ids[start : start + BATCH],
                reported=True,
            ).values_list("platform_id", flat=True)
        )
    fresh = len(reported - known)
    return (f"{fresh} message(s) newly reported",) if fresh else ()


def _store_attachments(item, report: Report, messages: Sequence[MessageFacts]) -> list[Media]:
    """Each message's attachments, on the message (a message sent again with a file it already
    has does not store the file twice)."""
    with_files = [m for m in messages if m.attachments]
    if not with_files:
        return []
    by_id = {
        m.platform_id: m
        for m in Message.objects.filter(
            conversation=item, platform_id__in=[m.id for m in with_files]
        ).only("id", "platform_id")
    }
    have = set(
        Media.objects.filter(message__in=list(by_id.values())).values_list("message_id", "sha256")
    )
    stored: list[Media] = []
    for facts in with_files:
        message = by_id[facts.id]
        for incoming in facts.attachments:
            if (message.pk, incoming.sha256) in have:
                continue
            have.add((message.pk, incoming.sha256))
            stored += store_media_rows(
                [incoming], content_item=item, report=report, message=message
            )
    return stored


def _record_conversation_links(
    item, report: Report, stored: StoredConversation, description: str, links: Sequence[str]
) -> int:
    """The report's own links and its description's, then those in its new messages, up to
    MAX_LINKS_PER_REPORT in all."""
    count = record_links(item, links, description, report=report)
    for message in stored.new_with_links.values():
        if count >= MAX_LINKS_PER_REPORT:
            break
        urls = extract_urls(message.text)[: MAX_LINKS_PER_REPORT - count]
        if urls:
            found = links_record(content_item=item, urls=urls, report=report, message=message)
            count += len(found)
    return count


def _accounts_to_check(
    content: ContentFacts, facts: ConversationFacts, stored: StoredConversation
) -> list[str]:
    """The accounts this report may have tipped into an account case: the reported ones, and
    those who sent a reported message, when not known to be minors. Everyone else in a group
    chat is left alone."""
    senders = {m.sender_id for m in facts.messages if m.reported}
    return sorted(
        {
            p.account_id
            for p in stored.participants.values()
            if (p.reported or p.account_id in senders or p.account_id == content.owner_id)
            and p.role != Participant.Role.MINOR
        }
    )


def _conversation_warnings(stored: StoredConversation) -> list[dict]:
    warnings = []
    if stored.unlisted:
        warnings.append(
            {
                "field": "conversation.messages",
                "code": "sender_not_listed",
                "detail": f"{len(stored.unlisted)} sender(s) of messages were not among the "
                "participants: they were added with an unknown age.",
            }
        )
    if stored.conflicting:
        warnings.append(
            {
                "field": "conversation.messages",
                "code": "duplicate_message",
                "detail": f"{len(stored.conflicting)} message id(s) came more than once with "
                "different contents: the first of each was kept.",
            }
        )
    return warnings
