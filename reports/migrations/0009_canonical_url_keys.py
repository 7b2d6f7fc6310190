"""Content items keyed by the canonical URL (issue 14): links that differ only by the host's case,
a default port, trailing slashes, the fragment, percent-escapes or tracking parameters now name
one item, so reports about them roll up into one case (reports.content.canonical_url).

Every item with a URL gets its `url_key` recomputed. It is indexed, not unique, and it is how
intake finds an item from a URL (the oldest first). An item keyed by its URL (`key` is
`url:<hash>`: it arrived without a platform id) gets its key recomputed too; items keyed by the
platform's id keep theirs.

Two existing items can now be the same content. They are not merged: each may have its own case,
reports, decisions, escalation and actions asked of the platform, some under review right now,
and whether they really are one thing, and which decision stands, is a reviewer's call, not a
migration's. `key` is unique, so one of them takes the canonical key: the item that already has
it keeps it, else the oldest takes it; the others keep their old key, which intake no longer
computes. Their `url_key` is the canonical one, so new reports about that content join the
oldest item's case, and a search by URL key finds them all.

Not atomic: batches commit one at a time, so a large table is not held in one transaction while
the previous release's processes take reports. Running it again changes only what is not
canonical yet; `manage.py recompute_content_keys` does that after deploying, for items those
processes created with the previous rule while this ran.

Reverse: the keys by the previous rule (frozen below), with the same handling of collisions.
"""

import hashlib
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from django.db import migrations, transaction

from reports.content import url_key

BATCH = 1000


def previous_url_key(url: str) -> str:
    """The rule before this migration: scheme and netloc lower-cased, "/" for an empty path, the
    fragment dropped."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        text = urlunsplit(
            (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
        )
    except ValueError:  # the previous rule raised; no item was stored with such a URL
        pass
    return hashlib.sha256(text.encode()).hexdigest() if url else ""


def recompute(apps, *, key_of_url: Callable[[str], str] = url_key) -> tuple[int, int]:
    """Recompute the URL keys of every content item with `key_of_url`, in batches by id.
    Returns (items changed, items that keep an old key because another item has their new one).
    """
    ContentItem = apps.get_model("reports", "ContentItem")
    changed = kept = 0
    last = 0
    while True:
        rows = list(
            ContentItem.objects.filter(pk__gt=last)
            .exclude(url="")
            .order_by("pk")
            .values_list("pk", "key", "url_key", "url")[:BATCH]
        )
        if not rows:
            return changed, kept
        last = rows[-1][0]
        wanted = []
        for pk, key, old_url_key, url in rows:
            new_url_key = key_of_url(url)
            new_key = f"url:{new_url_key}" if key.startswith("url:") else key
            wanted.append((pk, key, new_key, old_url_key, new_url_key))
        with transaction.atomic():
            # Keys held before this batch stay where they are, so no update meets the unique
            # constraint halfway; rows come in id order, so the oldest claims a free key first.
            taken = set(
                ContentItem.objects.filter(
                    key__in=[new for _, old, new, *_ in wanted if new != old]
                ).values_list("key", flat=True)
            )
            updates = []
            for pk, key, new_key, old_url_key, new_url_key in wanted:
                if new_key != key:
                    if new_key in taken:
                        kept += 1
                        new_key = key
                    else:
                        taken.add(new_key)
                if (new_key, new_url_key) != (key, old_url_key):
                    updates.append(ContentItem(pk=pk, key=new_key, url_key=new_url_key))
            ContentItem.objects.bulk_update(updates, ["key", "url_key"])
            changed += len(updates)


def forwards(apps, schema_editor):
    recompute(apps)


def backwards(apps, schema_editor):
    recompute(apps, key_of_url=previous_url_key)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("reports", "0008_content_posted_ip_captures"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
