"""The content item a report or flag is about: what intake knows of it (ContentFacts), how two
reports find the same item (the platform's id, or the canonical URL), and finding or creating it."""

import hashlib
import re
import string
import unicodedata
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
    # The owner's e-mail address as the platform holds it (for an authority's report).
    owner_email: str = ""
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


# Query parameters that say how someone reached a link (an ad click, a campaign, a share button),
# never which content it is. Compared lower-cased, after unreserved escapes are decoded. `si`
# (YouTube's and Spotify's share id) is not here: on other sites it can name the content.
TRACKING_PARAMETER_PREFIXES = ("utm_",)  # Google Analytics' campaign parameters, any of them
TRACKING_PARAMETERS = frozenset(
    {
        # Ad clicks: Meta, Google Ads, Microsoft Ads, X, TikTok, LinkedIn, Yandex.
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "yclid",
        # Share buttons and embeds: Instagram, X.
        "igshid",
        "igsh",
        "ref_src",
        "ref_url",
        # Email campaigns and cross-site analytics: Mailchimp, HubSpot, Marketo, Google Analytics.
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "_ga",
        "_gl",
    }
)
DEFAULT_PORTS = {"http": "80", "https": "443"}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})?")


def canonical_url(url: str) -> str:
    """The form of a URL that decides which content item it names; the URL as given is kept for
    display. Two links meet when they differ only in what cannot change the content a server
    sends: the case of the scheme and host, a default port (http 80, https 443), an IDN host
    written in Unicode or punycode, an empty path ("/"), trailing slashes after a non-root path,
    the fragment (it never reaches the server), the spelling of percent-escapes (unreserved
    characters decoded, hex upper-cased) and tracking parameters (TRACKING_PARAMETERS, any
    `utm_*`). The path's case and the other parameters, in their order, are kept: a site may
    tell them apart, and merging two different items puts one under the other's decision,
    which is worse than a second case about the same one. Never raises: input urlsplit cannot
    read is its own canonical form."""
    text = _strip(url)
    try:
        parts = urlsplit(text)
    except ValueError:  # an unclosed IPv6 bracket, say
        return text
    scheme = parts.scheme.lower()
    netloc = _canonical_netloc(scheme, parts.netloc)
    path = _normalise_escapes(parts.path)
    if netloc or scheme:
        # /a/b/ and /a/b are one page on nearly every site; "" and "/" are one by definition.
        path = path.rstrip("/") or "/"
    if not netloc and path.startswith("//"):
        path = "/" + path.lstrip("/")  # or it would read as a host next time
    # Parameter order is kept, not sorted: some servers read parameters by position or take the
    # first of a repeated one, and share links for one item come out of one button in one order.
    query = "&".join(
        part
        for part in (_normalise_escapes(p) for p in parts.query.split("&"))
        if part and not _is_tracking(part.partition("=")[0].lower())
    )
    canonical = urlunsplit((scheme, netloc, path, query, ""))
    # What stood before a dropped fragment or parameter may be spaces: once more without them
    # (shorter each time, so this ends), so that the canonical form of a canonical form is itself.
    stripped = _strip(canonical)
    return canonical if stripped == canonical else canonical_url(stripped)


# Whitespace and the control characters urlsplit drops from the start of a URL.
_EDGES = re.compile(r"^[\s\x00-\x20]+|[\s\x00-\x20]+$")


def _strip(text: str) -> str:
    return _EDGES.sub("", text)


def _is_tracking(name: str) -> bool:
    return name.startswith(TRACKING_PARAMETER_PREFIXES) or name in TRACKING_PARAMETERS


def _canonical_netloc(scheme: str, netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":")
    is_port = port == "" or (port.isascii() and port.isdigit())
    if not colon or not is_port or (":" in host and not host.endswith("]")):
        host, port = hostport, ""  # no port, or an IPv6 address without one
    port = port.lstrip("0") or ("0" if port else "")
    if port == DEFAULT_PORTS.get(scheme):
        port = ""
    # User information is a credential: its case is kept.
    return f"{userinfo}{at}{_canonical_host(host)}{':' if port else ''}{port}"


def _canonical_host(host: str) -> str:
    host = host.lower()
    if host.isascii():
        return host
    # An IDN host, as its punycode (RFC 3492) labels: 例え.jp meets xn--r8jz45g.jp. Lower-case
    # and NFC only, not IDNA's full mapping: a host this does not map like a browser rolls up
    # less, never into another host.
    labels = []
    for label in host.split("."):
        if not label.isascii():
            # The punycode codec takes any str, lone surrogates included.
            label = "xn--" + unicodedata.normalize("NFC", label).encode("punycode").decode()
        labels.append(label)
    return ".".join(labels)


def _normalise_escapes(text: str) -> str:
    """%7E and ~ are one character (RFC 3986 6.2.2.2), %2f and %2F one escape; a stray % is
    written %25, as servers read it."""

    def one(match: re.Match) -> str:
        hex_digits = match.group(1)
        if hex_digits is None:
            return "%25"
        char = chr(int(hex_digits, 16))
        return char if char in _UNRESERVED else f"%{hex_digits.upper()}"

    return _ESCAPE.sub(one, text)


def url_key(url: str) -> str:
    """SHA-256 of the canonical URL: how a report that knows only the URL finds its item."""
    return hashlib.sha256(canonical_url(url).encode()).hexdigest() if url else ""


def content_key(*, platform_id: str = "", url: str = "") -> str:
    """The identity of a content item: the platform's id if known, else its canonical URL (by
    hash, so any URL the form accepts fits)."""
    if platform_id:
        return f"id:{platform_id}"
    return f"url:{url_key(url)}"


def content_item_get_or_create(content: ContentFacts) -> tuple[ContentItem, set[str]]:
    """The item a report is about, and which of its fields this intake filled in or changed. The
    platform's id wins; failing that, the URL — so a report through the form (URL only) and one
    from the platform (id and URL) meet on one item. The owner's IP captures are added, never
    removed."""
    item = content_item_find(content)
    if item is None:
        item, created = ContentItem.objects.get_or_create(
            key=content_key(platform_id=content.platform_id, url=content.url),
            defaults=new_item_fields(content, url_key(content.url)),
        )
        if created:
            content_add_ip_captures(item, content.ip_captures)
            return item, {"created"}
    updates = learnt_fields(item, content, url_key(content.url))
    if updates:
        ContentItem.objects.filter(pk=item.pk).update(**updates)
        for field, value in updates.items():
            setattr(item, field, value)
    content_add_ip_captures(item, content.ip_captures)
    return item, set(updates)


def content_item_find(content: ContentFacts) -> ContentItem | None:
    """The item a report with these facts is about, if Vigil has it: by the platform's id, else by
    the canonical URL."""
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


def new_item_fields(content: ContentFacts, canonical_url_key: str) -> dict:
    """The fields of a new content item, from the intake that creates it (`canonical_url_key`:
    url_key(content.url), worked out once by the caller)."""
    return {
        "platform_id": content.platform_id,
        "url": content.url,
        "url_key": canonical_url_key,
        "type": content.type or ContentItem.Type.OTHER,
        "owner_id": content.owner_id,
        "owner_handle": content.owner_handle,
        "owner_email": content.owner_email,
        "language": content.language,
        "reach": content.reach,
        "posted_at": content.posted_at,
        "publicly_available": content.publicly_available,
    }


def learnt_fields(item: ContentItem, content: ContentFacts, canonical_url_key: str) -> dict:
    """What this intake knows about the item that it did not: later reports may know more than
    the first one did (`canonical_url_key`: url_key(content.url))."""
    updates = {
        field: value
        for field, value in (
            ("platform_id", content.platform_id),
            ("url", content.url),
            ("url_key", canonical_url_key),
            ("owner_id", content.owner_id),
            ("owner_handle", content.owner_handle),
            ("owner_email", content.owner_email),
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
