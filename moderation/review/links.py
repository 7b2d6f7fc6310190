"""Reads for the case page's Links section: the links found in the reports, flags and messages
about the case's content (reports.Link, fetched by reports/links.py), what became of each, and
where each was found.

The page shows a link as text, never as something to click: a reviewer must not open an address
that may lead to child sexual abuse material in their own browser. Vigil fetches it (public
addresses only, bounded) and what it found is a file on the case, blurred until revealed.

Two queries whatever the number of links (how many, then the first SHOWN with their report, flag,
message and file, and the page of the thread each message is on); one when there are none.
"""

from dataclasses import dataclass

from django.db.models import F, Func, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from moderation.cases.models import Case
from moderation.review.conversations import PER_PAGE as THREAD_PER_PAGE
from reports.models import Link, Message

SHOWN = 50


@dataclass(frozen=True)
class CaseLinks:
    # How many links the case's content has (more than are shown when over SHOWN).
    total: int
    # The first SHOWN in the order they were found, each annotated: `found_case_id` (the case
    # its report or flag came with: a file fetched from it is shown on that case) and, for one
    # found in a message, `thread_page` (the page of the case's thread the message is on).
    links: list[Link]

    @property
    def more(self) -> int:
        return self.total - len(self.links)


def case_links(case: Case) -> CaseLinks | None:
    """The links of the case's content item, or None when it has none. A conversation's links
    are those of all its reports and messages, as its thread is all of its messages: a link met
    with an earlier case of the conversation says which case its file is on."""
    links = Link.objects.filter(content_item_id=case.content_item_id)
    total = links.count()
    if not total:
        return None
    # Messages sent before the link's message, in the thread's order (sent_at, then id): which
    # page of the thread it is on. One correlated count per link shown, on the thread's index.
    before = (
        Message.objects.filter(conversation_id=case.content_item_id)
        .filter(
            Q(sent_at__lt=OuterRef("message__sent_at"))
            | Q(sent_at=OuterRef("message__sent_at"), pk__lt=OuterRef("message_id"))
        )
        .order_by()
        # COUNT as a plain function, not an aggregate: no GROUP BY, one value per link.
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    shown = list(
        links.select_related("report", "flag", "message", "media")
        .annotate(
            found_case_id=Coalesce(F("report__case_id"), F("flag__case_id")),
            messages_before=Subquery(before),
        )
        .order_by("created_at", "pk")[:SHOWN]
    )
    for link in shown:
        link.thread_page = (
            (link.messages_before or 0) // THREAD_PER_PAGE + 1 if link.message_id else None
        )
    return CaseLinks(total=total, links=shown)
