"""Writes for what comes in: reports, flags, their media, and the media's hashes."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from lib.jobs import job_path
from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.cases.reprioritise import reporter_share
from moderation.cases.rollup import (
    Outcome,
    case_attach,
    case_count_flag,
    case_count_report,
    case_refresh_priority,
)
from moderation.cases.route_rules import source_of_flag
from moderation.notices.services import notices_for_report
from moderation.outbox.models import OutboxJob
from moderation.outbox.services import enqueue
from reports.content import ContentFacts, content_item_get_or_create
from reports.conversations import (
    BATCH,
    ConversationFacts,
    MessageFacts,
    StoredConversation,
    conversation_store,
)
from reports.jobs import check_account, hash_media
from reports.link_intake import extract_urls, links_record
from reports.media import IncomingMedia, store_media
from reports.models import (
    ContentItem,
    Flag,
    Media,
    Message,
    Participant,
    Report,
    ReporterIdentity,
)

# Links fetched from one report at most (its description, its links and its messages'): beyond
# that a report is a link list, and a flood of fetches is what a hostile sender would want.
MAX_LINKS_PER_REPORT = 100


def reporter_fingerprint(*, account_id: str = "", email: str = "", ip: str | None = None) -> str:
    """A keyed hash of the strongest identifier, for counting distinct reporters."""
    if account_id:
        value = f"account:{account_id}"
    elif email:
        value = f"email:{email.strip().lower()}"
    elif ip:
        value = f"ip:{ip}"
    else:
        return ""
    return salted_hmac("vigil.reporter-fingerprint", value, algorithm="sha256").hexdigest()


def _store_media(images: Sequence[IncomingMedia], **owner) -> list[Media]:
    return [
        Media.objects.create(**image.media_fields(store_media(image)), **owner) for image in images
    ]


def _item_and_case(
    *,
    content: ContentFacts,
    category: str,
    involves_child: bool,
    images: Sequence[IncomingMedia],
    actor_label: str,
    source: str,
    news: tuple[str, ...] = (),
):
    """The content item a report or flag is about and the case it rolls up into."""
    item, changed = content_item_get_or_create(content)
    case, outcome = case_attach(
        content_item=item,
        category=category,
        involves_child=involves_child,
        source=source,
        media_sha256s=frozenset(i.sha256 for i in images),
        language_is_new="language" in changed,
        news=news,
        actor_label=actor_label,
    )
    return item, case, outcome


def report_submit(
    *,
    category: str,
    reporter_kind: str,
    source: str,
    content: ContentFacts,
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
) -> Report:
    """Accept a report: store it and its reporter's identity (apart), roll it up into its case,
    and queue hashing of its images. `reporter_notify`: the reporter asked to be e-mailed at
    `reporter_email` that it was received and, later, whether action was taken
    (moderation/notices)."""
    notify = reporter_notify and bool(reporter_email)
    with transaction.atomic(durable=True):
        item, case, outcome = _item_and_case(
            content=content,
            category=category,
            involves_child=involves_child,
            images=images,
            actor_label=actor_label,
            source=source,
        )
        report = Report.objects.create(
            content_item=item,
            case=case,
            category=category,
            description=description,
            involves_child=involves_child,
            reporter_kind=reporter_kind,
            source=source,
            submitted_by=submitted_by,
        )
        _count_reporter(
            report,
            case,
            account_id=reporter_account_id,
            email=reporter_email,
            ip=reporter_ip,
            notify=notify,
        )
        media = _store_media(images, content_item=item, report=report)
        found = record_links(item, links, description, report=report)
        case_refresh_priority(case=case)
        # The reporter's identity stays out of the audit trail: it is in ReporterIdentity only.
        audit_record(
            verb="report.received",
            obj=report,
            case=case,
            actor_label=actor_label,
            after={
                "reference": report.reference,
                "category": category,
                "involves_child": involves_child,
                "source": source,
                "media": [m.pk for m in media],
                "case": outcome,
                "priority": case.priority,
                **({"links": found} if found else {}),
            },
        )
        _queue_hashing(media)
        if notify:
            notices_for_report(report=report, counted=outcome == Outcome.COUNTED)
        _check_owner(item)
    return report


def record_links(item, links: Sequence[str], description: str, **owner) -> int:
    """Record the links a report or flag gave and those in its description, for fetching."""
    urls = [*links, *extract_urls(description)][:MAX_LINKS_PER_REPORT]
    return len(links_record(content_item=item, urls=urls, **owner)) if urls else 0


def counts_towards_owner(item: ContentItem) -> bool:
    return bool(item.owner_id) and item.type != ContentItem.Type.ACCOUNT


def _check_owner(item: ContentItem) -> None:
    """A report about something an account posted counts towards an account case about it."""
    if counts_towards_owner(item):
        accounts_check_later(account_ids=[item.owner_id])


def _count_reporter(
    report: Report, case, *, account_id: str, email: str, ip: str | None, notify: bool
) -> None:
    """Count the reporter once on the case, weigh in their track record, and keep who they are
    apart from the report (ReporterIdentity), never in the audit trail."""
    fingerprint = reporter_fingerprint(account_id=account_id, email=email, ip=ip)
    case_count_report(case, fingerprint=fingerprint)
    share = reporter_share(fingerprint)
    if share is not None and (
        case.reporter_reliability is None or share > case.reporter_reliability
    ):
        case.reporter_reliability = share
    if account_id or email or ip:
        ReporterIdentity.objects.create(
            report=report,
            account_id=account_id,
            email=email,
            ip=ip,
            fingerprint=fingerprint,
            notify=notify,
        )


def flag_submit(
    *,
    source: str,
    external_id: str,
    category: str,
    score: float,
    content: ContentFacts,
    model_version: str = "",
    description: str = "",
    involves_child: bool = False,
    images: Sequence[IncomingMedia] = (),
    links: Sequence[str] = (),
    submitted_by=None,
    actor_label: str = "api",
) -> tuple[Flag, bool]:
    """Accept an automated flag, idempotently on (source, external_id).

    Returns the flag and whether it was created; a repeat creates nothing and changes nothing.
    """
    existing = Flag.objects.filter(source=source, external_id=external_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic(durable=True):
            item, case, outcome = _item_and_case(
                content=content,
                category=category,
                involves_child=involves_child,
                images=images,
                actor_label=actor_label,
                source=source_of_flag(source),
            )
            flag = Flag.objects.create(
                content_item=item,
                case=case,
                source=source,
                external_id=external_id,
                category=category,
                score=score,
                model_version=model_version,
                involves_child=involves_child,
                submitted_by=submitted_by,
            )
            media = _store_media(images, content_item=item, flag=flag)
            found = record_links(item, links, description, flag=flag)
            case_count_flag(case, score=score)
            case_refresh_priority(case=case)
            audit_record(
                verb="flag.received",
                obj=flag,
                case=case,
                actor_label=actor_label,
                after={
                    "source": source,
                    "external_id": external_id,
                    "category": category,
                    "score": score,
                    "media": [m.pk for m in media],
                    "case": outcome,
                    "priority": case.priority,
                    **({"links": found} if found else {}),
                },
            )
            _queue_hashing(media)
            _check_owner(item)
    except IntegrityError:
        # The same flag arrived twice at once and the other request won: it is that flag.
        existing = Flag.objects.filter(source=source, external_id=external_id).first()
        if existing is None:
            raise
        return existing, False
    return flag, True


@in_transaction
def accounts_check_later(*, account_ids: Iterable[str]) -> None:
    """Check each account against the account case thresholds (reports/account_rules.py) once
    this intake has committed."""
    for account_id in sorted({a for a in account_ids if a}):
        enqueue(check_account, account_id)


def _queue_hashing(media: Sequence[Media]) -> None:
    for m in media:
        enqueue(hash_media, m.pk)


def media_requeue_unhashed(*, older_than: timedelta, limit: int = 500) -> int:
    """Queue hashing again for media still unhashed long after arrival.

    The outbox covers jobs that never reached Redis; this covers jobs Redis lost afterwards (a
    restart without persistence, a flushed database). Hashing is idempotent, so a media whose job
    was merely slow is hashed once all the same. A media queued again recently is left alone.
    """

    now = timezone.now()
    recently_queued = OutboxJob.objects.filter(
        func=job_path(hash_media), created_at__gt=now - older_than
    ).values_list("args", flat=True)
    recent = {args[0] for args in recently_queued if args}
    stale = list(
        Media.objects.filter(hashed_at__isnull=True, created_at__lte=now - older_than)
        .exclude(pk__in=recent)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic(durable=True):
        for media_id in stale:
            enqueue(hash_media, media_id)
    return len(stale)


def report_status(reference: str) -> dict | None:
    """What a reporter may learn about their report: whether it has been reviewed. Nothing about
    the reported content, its owner, or what was decided."""
    report = (
        Report.objects.select_related("case")
        .filter(reference=reference.strip().upper())
        .only("reference", "created_at", "case__status", "case__decided_at")
        .first()
    )
    if report is None:
        return None
    case = report.case
    # Reviewed: a person decided on the content after this report arrived (sending it on to a
    # senior reviewer is not a decision yet). Already reviewed: it came in about content that had
    # been decided and brought nothing new, so it was counted there rather than queued again.
    decided_after = (
        case.decisions.filter(created_at__gte=report.created_at)
        .exclude(action="senior_review")
        .exists()
    )
    if decided_after:
        state = "reviewed"
    elif case.status == "decided":
        state = "already_reviewed"
    else:
        state = "waiting"
    return {"reference": report.reference, "received_at": report.created_at, "state": state}


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
    attachments = [a for m in facts.messages for a in m.attachments]
    notify = reporter_notify and bool(reporter_email)
    with transaction.atomic(durable=True):
        item, case, outcome = _item_and_case(
            content=content,
            category=category,
            involves_child=involves_child,
            images=[*images, *attachments],
            actor_label=actor_label,
            source=source,
            news=_conversation_news(content, facts),
        )
        report = Report.objects.create(
            content_item=item,
            case=case,
            category=category,
            description=description,
            involves_child=involves_child,
            reporter_kind=reporter_kind,
            source=source,
            submitted_by=submitted_by,
        )
        _count_reporter(
            report,
            case,
            account_id=reporter_account_id,
            email=reporter_email,
            ip=reporter_ip,
            notify=notify,
        )
        stored = conversation_store(item=item, facts=facts, report=report)
        media = _store_media(images, content_item=item, report=report)
        media += _store_attachments(item, report, facts.messages)
        link_count = _record_conversation_links(item, report, stored, description, links)
        case_refresh_priority(case=case)
        audit_record(
            verb="report.received",
            obj=report,
            case=case,
            actor_label=actor_label,
            after={
                "reference": report.reference,
                "category": category,
                "involves_child": involves_child,
                "source": source,
                "media": [m.pk for m in media],
                "case": outcome,
                "priority": case.priority,
                "conversation": {
                    "participants": len(stored.participants),
                    "messages_new": len(stored.new_messages),
                    "messages_repeated": stored.repeated,
                    "senders_not_listed": len(stored.unlisted),
                    "links": link_count,
                },
            },
        )
        _queue_hashing(media)
        if notify:
            notices_for_report(report=report, counted=outcome == Outcome.COUNTED)
        accounts_check_later(account_ids=_accounts_to_check(content, stored))
    return ConversationReported(
        report=report, conversation=stored, warnings=_conversation_warnings(stored)
    )


def _conversation_news(content: ContentFacts, facts: ConversationFacts) -> tuple[str, ...]:
    """Messages reported that were not reported before: on a decided conversation they are
    something new to decide."""
    reported = {m.id for m in facts.messages if m.reported}
    if not reported or not content.platform_id:
        return ()
    known = set(
        Message.objects.filter(
            conversation__platform_id=content.platform_id,
            conversation__type=ContentItem.Type.CONVERSATION,
            platform_id__in=list(reported)[:BATCH],
            reported=True,
        ).values_list("platform_id", flat=True)
    )
    fresh = len(reported - known) if len(reported) <= BATCH else len(reported)
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
            stored += _store_media([incoming], content_item=item, report=report, message=message)
    return stored


def _record_conversation_links(
    item, report: Report, stored: StoredConversation, description: str, links: Sequence[str]
) -> int:
    """The report's own links and its description's, then those in its new messages, up to
    MAX_LINKS_PER_REPORT in all."""
    count = record_links(item, links, description, report=report)
    for message in stored.new_messages.values():
        if count >= MAX_LINKS_PER_REPORT:
            break
        urls = extract_urls(message.text)[: MAX_LINKS_PER_REPORT - count]
        if urls:
            found = links_record(content_item=item, urls=urls, report=report, message=message)
            count += len(found)
    return count


def _accounts_to_check(content: ContentFacts, stored: StoredConversation) -> list[str]:
    """The accounts this report may have tipped into an account case: the reported one, and
    every participant not known to be a minor in a conversation with a minor."""
    accounts = {content.owner_id} if content.owner_id else set()
    accounts |= {p.account_id for p in stored.participants.values() if p.reported}
    if stored.minors:
        accounts |= {
            p.account_id for p in stored.participants.values() if p.role != Participant.Role.MINOR
        }
    return sorted(accounts)


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
