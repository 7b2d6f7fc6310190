"""The content items of many intakes at once (a batch of flags): what content_item_get_or_create
does for each, one after another, worked out in memory from one read and written in a bounded
number of statements.

The rules are reports/content.py's: the platform's id finds the item, failing that the canonical
URL (when no platform id says otherwise), failing that the item is created under its key; later
intakes fill in what the item lacked (`learnt_fields`) and add the owner's IP captures it did not have.
An item the batch creates is inserted with everything the batch told about it; an item that was
in the database gets one UPDATE per field the batch filled in.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from django.db.models import Q

from lib.transactions import in_transaction
from reports.content import (
    ContentFacts,
    IpCaptureIn,
    content_key,
    learnt_fields,  # the same rule as one intake at a time: what a later report may fill in
    new_item_fields,
    url_key,
)
from reports.models import ContentItem, IpCapture

# The fields learnt_fields may fill in, each written for the items that changed it.
LEARNABLE = [
    "platform_id",
    "url",
    "url_key",
    "owner_id",
    "owner_handle",
    "owner_email",
    "language",
    "posted_at",
    "publicly_available",
    "reach",
]


@dataclass(frozen=True)
class ContentStep:
    """What one intake's content step did: the item (shared by every step about it), which of its
    fields it created or changed (content_item_get_or_create's second value), and the item's
    language and reach as this step left them (a later step may change them)."""

    item: ContentItem
    changed: frozenset[str]
    language: str
    reach: int | None


class ContentBatch:
    """content_item_get_or_create for a batch's intakes, in order, then save()."""

    def __init__(self, facts: Sequence[ContentFacts]):
        # Each link's key, worked out once: canonicalising a link is most of a step's time.
        self._url_keys = {f.url: url_key(f.url) for f in facts}
        platform_ids = {f.platform_id for f in facts if f.platform_id}
        url_keys = {self._url_keys[f.url] for f in facts if f.url}
        keys = {self._key(f) for f in facts}
        self._order = count()
        self._rank: dict[int, tuple[int, int]] = {}  # id(item) -> its place in "order by pk"
        self._by_platform_id: dict[str, list[ContentItem]] = {}
        self._by_url_key: dict[str, list[ContentItem]] = {}
        self._by_key: dict[str, ContentItem] = {}
        self.existing: list[ContentItem] = []
        self._created: list[ContentItem] = []
        self._filled_in: dict[int, tuple[ContentItem, set[str]]] = {}  # existing items, by pk
        self._found: dict[int, ContentItem] = {}  # existing items a step found, by pk
        self._captures: dict[int, set[tuple]] = {}  # id(item) -> (ip, event, captured_at)
        self._new_captures: list[tuple[ContentItem, tuple]] = []
        found = ContentItem.objects.filter(
            Q(platform_id__in=platform_ids) | Q(url_key__in=url_keys) | Q(key__in=keys)
        ).order_by("pk")
        for item in found:
            self._rank[id(item)] = (0, item.pk)
            self._index(item)
            self.existing.append(item)
        if self.existing and any(f.ip_captures for f in facts):
            by_pk = {item.pk: item for item in self.existing}
            for item in self.existing:
                self._captures[id(item)] = set()
            for item_id, ip, event, at in IpCapture.objects.filter(
                content_item_id__in=list(by_pk)
            ).values_list("content_item_id", "ip", "event", "captured_at"):
                self._captures[id(by_pk[item_id])].add((ip, event, at))

    def _index(self, item: ContentItem) -> None:
        if item.platform_id:
            self._add(self._by_platform_id, item.platform_id, item)
        if item.url_key:
            self._add(self._by_url_key, item.url_key, item)
        self._by_key.setdefault(item.key, item)

    def _add(self, index: dict, value: str, item: ContentItem) -> None:
        items = index.setdefault(value, [])
        if item not in items:
            items.append(item)
            items.sort(key=lambda i: self._rank[id(i)])

    def _key(self, content: ContentFacts) -> str:
        # content_key, with the link's key worked out once.
        if content.platform_id:
            return content_key(platform_id=content.platform_id)
        return f"url:{self._url_keys[content.url]}"

    def _find(self, content: ContentFacts) -> ContentItem | None:
        # content._find over what was read and what the batch created: the first by id.
        if content.platform_id and (items := self._by_platform_id.get(content.platform_id)):
            return items[0]
        if content.url and (items := self._by_url_key.get(self._url_keys[content.url])):
            candidate = items[0]
            if not content.platform_id or candidate.platform_id in ("", content.platform_id):
                return candidate
        return None

    def get_or_create(self, content: ContentFacts) -> ContentStep:
        """content_item_get_or_create(content), in memory."""
        item = self._find(content)
        if item is None:
            item = self._by_key.get(self._key(content))
        if item is None:
            item = ContentItem(
                key=self._key(content),
                **new_item_fields(content, self._url_keys[content.url]),
            )
            # Created after everything read: its id will be higher.
            self._rank[id(item)] = (1, next(self._order))
            self._captures[id(item)] = set()
            self._created.append(item)
            self._index(item)
            self._add_captures(item, content.ip_captures)
            return ContentStep(item, frozenset({"created"}), item.language, item.reach)
        if item.pk is not None:
            self._found[item.pk] = item
        updates = learnt_fields(item, content, self._url_keys[content.url])
        for field, value in updates.items():
            setattr(item, field, value)
        if updates:
            self._index(item)
            if item.pk is not None:
                self._filled_in.setdefault(item.pk, (item, set()))[1].update(updates)
        self._add_captures(item, content.ip_captures)
        return ContentStep(item, frozenset(updates), item.language, item.reach)

    def _add_captures(self, item: ContentItem, captures: Sequence[IpCaptureIn]) -> None:
        # content_add_ip_captures: the events the item does not have yet.
        if not captures:
            return
        have = self._captures[id(item)]
        for c in captures:
            capture = (c.ip, c.event, c.captured_at)
            if capture not in have:
                have.add(capture)
                self._new_captures.append((item, capture))

    @property
    def found(self) -> list[ContentItem]:
        """The items read from the database that a step found: their cases are the ones the batch
        may join, reopen or count on."""
        return list(self._found.values())

    @in_transaction
    def save(self) -> None:
        """Insert the items the batch created, update what it filled in on the others (one
        statement per field), and add the new IP captures: at most a dozen statements."""
        if self._created:
            ContentItem.objects.bulk_create(self._created)
        learnt = sorted(self._filled_in.values(), key=lambda pair: pair[0].pk)
        for field in LEARNABLE:
            items = [item for item, fields in learnt if field in fields]
            if items:
                ContentItem.objects.bulk_update(items, [field])
        if self._new_captures:
            # ignore_conflicts: a concurrent report of the same content may add the same event.
            IpCapture.objects.bulk_create(
                [
                    IpCapture(content_item=item, ip=ip, event=event, captured_at=at)
                    for item, (ip, event, at) in self._new_captures
                ],
                ignore_conflicts=True,
            )
