"""Links found in what comes in (a report's description and links, a flag's, a conversation's
messages): recorded with the report, flag or message that brought them, and each new one handed
to the worker that fetches it (reports/links.py), so an image or video behind it is hashed and
matched like an upload."""

import hashlib
import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from lib.transactions import in_transaction
from moderation.outbox.services import enqueue_many
from reports.jobs import fetch_link
from reports.models import ContentItem, Flag, Link, Message, Report

# At most this many links from one report, flag or conversation: beyond that it is a link list,
# not evidence, and a flood of fetches is what a hostile sender would want.
MAX_LINKS = 50
MAX_URL_LENGTH = 2000

# http(s) URLs in free text, up to whitespace or a quote or bracket that closes them.
URL_IN_TEXT = re.compile(r"""https?://[^\s<>"'`]+""", re.IGNORECASE)
# Punctuation that ends a sentence rather than the URL ("see https://x.example/a.jpg.").
TRAILING = ".,;:!?)]}"

_validate = URLValidator(schemes=["http", "https"])


def extract_urls(text: str) -> list[str]:
    """The http(s) URLs in a text, in order, each once; trailing sentence punctuation left out
    (a closing bracket only when the URL has no opening one)."""
    found: list[str] = []
    for match in URL_IN_TEXT.finditer(text or ""):
        url = match.group(0)
        while url and url[-1] in TRAILING:
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        if usable_url(url) and url not in found:
            found.append(url)
    return found


def usable_url(url: str) -> bool:
    if not url or len(url) > MAX_URL_LENGTH:
        return False
    try:
        _validate(url)
    except ValidationError:
        return False
    return True


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


@in_transaction
def links_record(
    *,
    content_item: ContentItem,
    urls: Iterable[str],
    report: Report | None = None,
    flag: Flag | None = None,
    message: Message | None = None,
) -> list[Link]:
    """Record the links not yet known on this item and queue fetching each. Returns the new
    ones; a link already recorded on the item (by an earlier report, or twice here) is fetched
    once."""
    wanted: dict[str, str] = {}
    for url in urls:
        if usable_url(url):
            wanted.setdefault(url_key(url), url)
        if len(wanted) >= MAX_LINKS:
            break
    if not wanted:
        return []
    have = set(
        Link.objects.filter(content_item=content_item, url_key__in=list(wanted)).values_list(
            "url_key", flat=True
        )
    )
    new = [
        Link(
            content_item=content_item,
            report=report,
            flag=flag,
            message=message,
            url=url,
            url_key=key,
        )
        for key, url in wanted.items()
        if key not in have
    ]
    # ignore_conflicts: a concurrent report of the same item may record the same link; only the
    # rows this call wrote (read back) are queued.
    Link.objects.bulk_create(new, ignore_conflicts=True)
    created = list(
        Link.objects.filter(
            content_item=content_item,
            url_key__in=[link.url_key for link in new],
            report=report,
            flag=flag,
            message=message,
            status=Link.Status.PENDING,
            attempts=0,
        )
    )
    # On the `links` queue (fetch_link.queue), behind everything else the workers have to do.
    enqueue_many(fetch_link, [(link.pk,) for link in created])
    return created
