"""Reads for a conversation case's thread on the case page: its participants, and its messages a
page at a time in the order they were sent (sent_at, then id: the `message_thread_order`
index), each with its sender and its attachments.

A conversation can hold 10,000 messages, and every report of it adds to the same thread. A page
reads the same seven queries whatever its size (the first reported message, the counts, the
page's message ids, those messages with their senders, their attachments, those attachments'
bank matches, the participants) and never loads more than one page of messages. Only the counts
still read the whole thread (see `_counts`); the page joins and sorts its own rows only.
"""

from dataclasses import dataclass, field

from django.db.models import F, Func, IntegerField, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce

from moderation.cases.models import Case
from moderation.review.selectors import media_matches_prefetch
from reports.models import ContentItem, Media, Message, Participant

PER_PAGE = 100
# A group chat can have many members: the thread lists the reported ones and reporters first.
PARTICIPANTS_SHOWN = 50
# The decision form's choice of reported messages (any other is named by its id).
REPORTED_CHOICES = 50
# Page numbers offered either side of the current one (first and last are always offered).
PAGES_AROUND = 2


@dataclass
class Thread:
    participants: list[Participant]
    # More participants than shown (PARTICIPANTS_SHOWN).
    more_participants: bool
    messages: list[Message]
    number: int
    num_pages: int
    total: int
    reported_total: int
    per_page: int
    # The first reported message in sending order, and the page it is on (None: none reported).
    first_reported: int | None = None
    first_reported_page: int | None = None
    # The message to move the keyboard focus to once the page is drawn (a jump to it).
    focus: int | None = None
    page_numbers: list[int | None] = field(default_factory=list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def end_index(self) -> int:
        return min(self.number * self.per_page, self.total)


def is_conversation(case: Case) -> bool:
    return case.content_item.type == ContentItem.Type.CONVERSATION


def page_number(value) -> int | None:
    """A page number from the query string; None when it is not one (the first page is shown)."""
    if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) < 9:
        return int(value)
    return None


def case_thread(case: Case, *, page=None, focus=None, per_page: int = PER_PAGE) -> Thread | None:
    """The page `page` (a number, or text from the query string: anything else is the first page,
    past the end the last) of the case's conversation; None when the case is not about one.
    `focus`: a message id the reviewer jumped to, focused if it is on the page."""
    if not is_conversation(case):
        return None
    item = case.content_item
    counts = _counts(item)
    total = counts["total"]
    num_pages = max(1, -(-total // per_page))
    number = min(max(1, page_number(str(page)) or 1), num_pages)
    first_reported = counts["first_reported"]
    first_reported_page = (
        counts["before_first_reported"] // per_page + 1 if first_reported else None
    )
    offset = (number - 1) * per_page
    # The page's ids come from an index-only scan of `message_thread_order` (skipping the
    # earlier pages' index entries, never their rows); only those rows are then read, joined to
    # their senders and sorted. OFFSET on the whole rows made the database read, join and sort
    # every message of the thread for a late page (docs/performance.md, "Conversations and
    # links"), and the plan depended on the table's statistics.
    # Two statements, not an IN (subquery): given the ids as values, the database looks the
    # rows up by primary key whatever it guesses of the thread's size (as a subquery it could
    # hash-join them against a scan of every message).
    page_ids = list(
        Message.objects.filter(conversation=item)
        .order_by("sent_at", "pk")
        .values_list("pk", flat=True)[offset : offset + per_page]
    )
    messages = list(
        Message.objects.filter(pk__in=page_ids)
        .select_related("sender")
        .prefetch_related(Prefetch("attachments", queryset=_attachments()))
        .order_by("sent_at", "pk")
    )
    participants = list(_participants(item)[: PARTICIPANTS_SHOWN + 1])
    focus_id = page_number(str(focus))
    return Thread(
        participants=participants[:PARTICIPANTS_SHOWN],
        more_participants=len(participants) > PARTICIPANTS_SHOWN,
        messages=messages,
        number=number,
        num_pages=num_pages,
        total=total,
        reported_total=counts["reported"],
        per_page=per_page,
        first_reported=first_reported,
        first_reported_page=first_reported_page,
        focus=focus_id if any(m.pk == focus_id for m in messages) else None,
        page_numbers=_page_numbers(number, num_pages),
    )


def _counts(item: ContentItem) -> dict:
    """How many messages, how many reported, the first reported one (sending order) and how
    many were sent before it (which page it is on), in two queries whatever the thread's size.

    The first reported message is read once, from the partial index `message_reported_order`
    (one index entry), and its place is then given to the counts as values: named as a
    subquery, each mention was its own walk of the thread until a reported message. The reported
    count reads only the partial index. The total reads every entry of the thread's index (O(1)
    would need a count kept on the conversation), and the count before the first reported one
    at most the thread, as the planner chooses."""
    first = (
        Message.objects.filter(conversation=item, reported=True)
        .order_by("sent_at", "pk")
        .values_list("sent_at", "pk")
        .first()
    )
    thread = Message.objects.filter(conversation=item)
    before = Value(0)
    if first:
        first_at, first_pk = first
        # (sent_at, id) < the first reported one's: one range of `message_thread_order`.
        before = _count(
            thread.filter(Q(sent_at__lte=first_at) & (Q(sent_at__lt=first_at) | Q(pk__lt=first_pk)))
        )
    counts = (
        ContentItem.objects.filter(pk=item.pk)
        .values(
            total=_count(thread),
            reported=_count(thread.filter(reported=True)),
            before_first_reported=before,
        )
        .get()
    )
    return {**counts, "first_reported": first[1] if first else None}


def _count(messages):
    """COUNT(*) of `messages` as a scalar subquery. Not Count(), which would group by a column:
    a bare COUNT(*) lets the database count index entries without reading the rows."""
    counted = messages.order_by().annotate(n=Func(template="COUNT(*)", output_field=IntegerField()))
    return Subquery(counted.values("n"))


def _attachments():
    """A message's files as the case page shows media (stills, matches), with the case each came
    with: one that came with an earlier case of the conversation is served through that case."""
    return (
        Media.objects.select_related("video_strip")
        .annotate(case_id=Coalesce(F("report__case_id"), F("flag__case_id")))
        .prefetch_related(media_matches_prefetch())
        .order_by("created_at", "pk")
    )


def _page_numbers(number: int, num_pages: int) -> list[int | None]:
    """The page numbers the page selector offers: the first, the last and those around the
    current one; None where numbers are left out."""
    shown = {1, num_pages, *range(number - PAGES_AROUND, number + PAGES_AROUND + 1)}
    numbers: list[int | None] = []
    for n in sorted(n for n in shown if 1 <= n <= num_pages):
        if numbers and n - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(n)
    return numbers


def reported_messages(item: ContentItem, limit: int = REPORTED_CHOICES) -> list[Message]:
    """The conversation's first `limit` reported messages in sending order, with their senders:
    what a decision about one message usually chooses from."""
    return list(
        Message.objects.filter(conversation=item, reported=True)
        .select_related("sender")
        .order_by("sent_at", "pk")[:limit]
    )


def conversation_choices(case: Case) -> tuple[list[Message], list[Participant]] | None:
    """What a decision on a conversation case can be about besides the whole of it: its
    reported messages and its participants (the form names any other message by id); None when
    the case is not about a conversation."""
    if not is_conversation(case):
        return None
    item = case.content_item
    return reported_messages(item), list(_participants(item)[:PARTICIPANTS_SHOWN])


def _participants(item: ContentItem):
    # The reported accounts first, then who reported, then the rest as the reports listed them.
    return Participant.objects.filter(conversation=item).order_by(
        "-reported", "-is_reporter", "-listed", "pk"
    )
