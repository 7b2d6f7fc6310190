"""The content item a report or flag is about: what intake knows of it (ContentFacts), how two
reports find the same item (the platform's id, or the canonical URL), and finding or creating it."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from reports.models import ContentItem, IpCapture


@dataclass(frozen=True)
class IpCaptureIn:
    """An IP address the content's owner used: for what (a CyberTipline ipCaptureType) and when."""

    ip: str
    event: str
    captured_at: datetime


@dataclass(frozen=True)
class ContentFacts:
    """What a report or flag says about the content it is about. The platform's id wins in
    finding the item; failing that, the URL. Later reports may fill in what earlier ones lacked."""

    platform_id: str = ""
    url: str = ""
    type: str = ""
    owner_id: str = ""
    owner_handle: str = ""
    # BCP 47, normalised (moderation/cases/route_rules.py).
    language: str = ""
    reach: int | None = None
    posted_at: datetime | None = None
    publicly_available: bool | None = None
    ip_captures: Sequence[IpCaptureIn] = ()


def content_add_ip_captures(item: ContentItem, captures: Sequence[IpCaptureIn]) -> int:
    """Add the owner's IP capture events the item does not have yet; never removes any.
    Returns how many were new."""
    if not captures:
        return 0
    have = set(
        IpCapture.objects.filter(content_item=item).values_list("ip", "event", "captured_at")
    )
    new = {
        (c.ip, c.event, c.captured_at)
        for c in captures
        if (c.ip, c.event, c.captured_at) not in have
    }
    # ignore_conflicts: a concurrent report of the same content may add the same event.
    IpCapture.objects.bulk_create(
        [IpCapture(content_item=item, ip=ip, event=e, captured_at=at) for ip, e, at in new],
        ignore_conflicts=True,
    )
    return len(new)


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    # Scheme and host are case-insensitive; the fragment never reaches the server.
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )


def url_key(url: str) -> str:
    return hashlib.sha256(normalise_url(url).encode()).hexdigest() if url else ""


def content_key(*, platform_id: str = "", url: str = "") -> str:
    """The identity of a content item: the platform's id if known, else its normalised URL (by
    hash, so any URL the form accepts fits)."""
    if platform_id:
        return f"id:{platform_id}"
    return f"url:{url_key(url)}"


def content_item_get_or_create(content: ContentFacts) -> tuple[ContentItem, set[str]]:
    """The item a report is about, and which of its fields this intake filled in or changed. The
    platform's id wins; failing that, the URL — so a report through the form (URL only) and one
    from the platform (id and URL) meet on one item. The owner's IP captures are added, never
    removed."""
    item = _find(content)
    if item is None:
        item, created = ContentItem.objects.get_or_create(
            key=content_key(platform_id=content.platform_id, url=content.url),
            defaults={
                "platform_id": content.platform_id,
                "url": content.url,
                "url_key": url_key(content.url),
                "type": content.type or ContentItem.Type.OTHER,
                "owner_id": content.owner_id,
                "owner_handle": content.owner_handle,
                "language": content.language,
                "reach": content.reach,
                "posted_at": content.posted_at,
                "publicly_available": content.publicly_available,
            },
        )
        if created:
            content_add_ip_captures(item, content.ip_captures)
            return item, {"created"}
    updates = _learnt(item, content)
    if updates:
        ContentItem.objects.filter(pk=item.pk).update(**updates)
        for field, value in updates.items():
            setattr(item, field, value)
    content_add_ip_captures(item, content.ip_captures)
    return item, set(updates)


def _find(content: ContentFacts) -> ContentItem | None:
    if content.platform_id:
        item = ContentItem.objects.filter(platform_id=content.platform_id).order_by("pk").first()
        if item is not None:
            return item
    if content.url:
        candidate = ContentItem.objects.filter(url_key=url_key(content.url)).order_by("pk").first()
        # Same URL, and no platform id that says otherwise.
        if candidate is not None and (
            not content.platform_id or candidate.platform_id in ("", content.platform_id)
        ):
            return candidate
    return None


def _learnt(item: ContentItem, content: ContentFacts) -> dict:
    """What this intake knows about the item that it did not: later reports may know more than
    the first one did."""
    updates = {
        field: value
        for field, value in (
            ("platform_id", content.platform_id),
            ("url", content.url),
            ("url_key", url_key(content.url)),
            ("owner_id", content.owner_id),
            ("owner_handle", content.owner_handle),
            ("language", content.language),
        )
        if value and not getattr(item, field)
    }
    # Facts about the content the first report did not know; a later one never overwrites them.
    for field in ("posted_at", "publicly_available"):
        value = getattr(content, field)
        if value is not None and getattr(item, field) is None:
            updates[field] = value
    # Audiences grow: the largest figure reported is the latest that matters.
    if content.reach is not None and (item.reach is None or content.reach > item.reach):
        updates["reach"] = content.reach
    return updates
