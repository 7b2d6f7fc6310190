"""Writes for what comes in: reports, flags, their media, and the media's hashes."""

from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from lib.jobs import job_path
from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.cases.accounts import account_tally, is_platform_account
from moderation.cases.models import AccountCaseSettings
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
from reports.jobs import check_account, hash_media
from reports.link_intake import extract_urls, links_record
from reports.media import IncomingMedia, store_media
from reports.models import (
    ContentItem,
    Flag,
    Media,
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


def store_media_rows(images: Sequence[IncomingMedia], **owner) -> list[Media]:
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
        item, case, outcome, report = report_record(
            content=content,
            category=category,
            description=description,
            involves_child=involves_child,
            images=images,
            reporter_kind=reporter_kind,
            reporter_account_id=reporter_account_id,
            reporter_email=reporter_email,
            reporter_ip=reporter_ip,
            notify=notify,
            source=source,
            submitted_by=submitted_by,
            actor_label=actor_label,
        )
        media = store_media_rows(images, content_item=item, report=report)
        found = record_links(item, links, description, report=report)
        report_received(
            report=report,
            outcome=outcome,
            media=media,
            notify=notify,
            actor_label=actor_label,
            after={"links": found} if found else {},
        )
        _check_owner(item)
    return report


@in_transaction
def report_record(
    *,
    content: ContentFacts,
    category: str,
    description: str,
    involves_child: bool,
    images: Sequence[IncomingMedia],
    reporter_kind: str,
    reporter_account_id: str,
    reporter_email: str,
    reporter_ip: str | None,
    notify: bool,
    source: str,
    submitted_by,
    actor_label: str,
    news: tuple[str, ...] = (),
):
    """A report's first writes: its content item and case, the report, and its reporter counted
    and kept apart. Returns (item, case, outcome, report)."""
    item, case, outcome = _item_and_case(
        content=content,
        category=category,
        involves_child=involves_child,
        images=images,
        actor_label=actor_label,
        source=source,
        news=news,
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
    return item, case, outcome, report


@in_transaction
def report_received(
    *, report: Report, outcome: str, media: Sequence[Media], notify: bool, actor_label: str, after
) -> None:
    """A report's last writes, once all of it is stored: its case's priority, its audit event
    (`after` adds to what every report records), its media's hashing, the reporter's notice."""
    case = report.case
    case_refresh_priority(case=case)
    # The reporter's identity stays out of the audit trail: it is in ReporterIdentity only.
    audit_record(
        verb="report.received",
        obj=report,
        case=case,
        actor_label=actor_label,
        after={
            "reference": report.reference,
            "category": report.category,
            "involves_child": report.involves_child,
            "source": report.source,
            "media": [m.pk for m in media],
            "case": outcome,
            "priority": case.priority,
            **after,
        },
    )
    _queue_hashing(media)
    if notify:
        notices_for_report(report=report, counted=outcome == Outcome.COUNTED)


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
    news: tuple[str, ...] = (),
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
                news=news,
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
            media = store_media_rows(images, content_item=item, flag=flag)
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
    """Flag each account that this intake brought to an account case threshold, by a job once
    the intake has committed (reports/account_rules.py). Its tally is read here, in the intake's
    transaction (two indexed counts): most reports leave their account below every threshold, and
    those queue nothing."""
    rules = AccountCaseSettings.current()
    if not rules.enabled:
        return
    for account_id in sorted({a for a in account_ids if is_platform_account(a)}):
        if account_tally(account_id).reasons(rules):
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
