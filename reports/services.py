"""Writes for what comes in: reports, their media, and the media's hashes."""

import hashlib
from urllib.parse import urlsplit, urlunsplit

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from lib.jobs import enqueue
from moderation.audit import audit_record
from moderation.services import case_attach, case_refresh_priority
from reports.models import ContentItem, Media, Report


def content_key(*, platform_id: str = "", url: str = "") -> str:
    """The identity of a content item: the platform's id if known, else its normalised URL."""
    if platform_id:
        return f"id:{platform_id}"
    parts = urlsplit(url.strip())
    # Scheme and host are case-insensitive; the fragment never reaches the server.
    normalised = urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )
    return f"url:{normalised}"


def content_item_get_or_create(
    *,
    platform_id: str = "",
    url: str = "",
    type: str = "",
    owner_id: str = "",
    owner_handle: str = "",
) -> ContentItem:
    item, created = ContentItem.objects.get_or_create(
        key=content_key(platform_id=platform_id, url=url),
        defaults={
            "platform_id": platform_id,
            "url": url,
            "type": type or ContentItem.Type.OTHER,
            "owner_id": owner_id,
            "owner_handle": owner_handle,
        },
    )
    if not created:
        # Later reports may know more about the item than the first one did.
        updates = {
            field: value
            for field, value in (
                ("url", url),
                ("owner_id", owner_id),
                ("owner_handle", owner_handle),
            )
            if value and not getattr(item, field)
        }
        if updates:
            ContentItem.objects.filter(pk=item.pk).update(**updates)
    return item


def report_submit(
    *,
    category: str,
    reporter_kind: str,
    source: str,
    content_url: str = "",
    platform_id: str = "",
    content_type: str = "",
    owner_id: str = "",
    owner_handle: str = "",
    description: str = "",
    involves_child: bool = False,
    images: list[UploadedFile] = (),
    actor_label: str = "public form",
    ip: str | None = None,
) -> Report:
    """Accept a report: store it, roll it up into its case, and queue hashing of its images."""
    with transaction.atomic():
        item = content_item_get_or_create(
            platform_id=platform_id,
            url=content_url,
            type=content_type,
            owner_id=owner_id,
            owner_handle=owner_handle,
        )
        case, case_created = case_attach(
            content_item=item, category=category, involves_child=involves_child
        )
        report = Report.objects.create(
            content_item=item,
            case=case,
            category=category,
            description=description,
            involves_child=involves_child,
            reporter_kind=reporter_kind,
            source=source,
        )
        media = [
            Media.objects.create(
                content_item=item,
                report=report,
                file=image,
                original_filename=(image.name or "")[:255],
                mime=image.content_type or "",
                size=image.size or 0,
            )
            for image in images
        ]
        case_refresh_priority(case=case)
        if case_created:
            audit_record(
                verb="case.opened",
                obj=case,
                case=case,
                actor_label=actor_label,
                after={"queue": case.queue.slug, "category": case.category},
                ip=ip,
            )
        # The reporter's IP is deliberately not stored with the report (see the privacy rules).
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
                "priority": case.priority,
            },
        )
        from reports.jobs import hash_media

        for m in media:
            enqueue(hash_media, m.pk)
    return report


def media_hash(*, media_id: int) -> Media:
    """Compute and store a media file's exact hashes. Idempotent: hashed media is left alone."""
    with transaction.atomic():
        media = Media.objects.select_for_update().get(pk=media_id)
        if media.hashed_at is not None:
            return media
        sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        with media.file.open("rb") as f:
            for chunk in iter(lambda: f.read(1024 * 1024), b""):
                sha256.update(chunk)
                md5.update(chunk)
                size += len(chunk)
        media.sha256 = sha256.hexdigest()
        media.md5 = md5.hexdigest()
        media.size = size
        media.hashed_at = timezone.now()
        media.save(update_fields=["sha256", "md5", "size", "hashed_at"])
        audit_record(
            verb="media.hashed",
            obj=media,
            case=media.report.case if media.report_id else media.flag.case,
            after={"sha256": media.sha256, "md5": media.md5},
        )
    return media
