"""Reads for the account page: everything Vigil holds about one platform account (the owner of
reported content, `ContentItem.owner_id`, and a participant of reported conversations,
`Participant.account_id`), as far as the person reading may see it.

What a person may see is the rule of the pages it links to: a case as on the case page
(moderation/cases/access.py), an escalation as on the escalation page
(moderation/escalations/access.py); decisions, actions, matches and appeals go with their case.
Every section is a page of its own list, newest first: a count and one page of rows, so the page
reads the same number of queries for an account with two cases as for one with two thousand.

An account is in conversations it does not own (the child a reported adult wrote to, or an adult
someone else's report was about): those are listed by its part in each, and the decisions made
there about it (its account, or a message it sent) are among its decisions.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, Func, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from moderation.banks.models import Match
from moderation.cases.access import visible_cases
from moderation.cases.models import Case
from moderation.decisions.models import Appeal, Decision
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from moderation.escalations.selectors import visible_to
from moderation.review.selectors import blind_case_ids
from reports.models import ContentItem, Media, Message, Participant

PER_PAGE = 20
# How many of the account's handles the heading names (a handle can change; the newest first).
HANDLES_SHOWN = 5
# The sections, in the order the page shows them; each pages with ?<name>_page=N.
SECTIONS = ("cases", "conversations", "decisions", "actions", "matches", "escalations", "appeals")


@dataclass
class AccountOverview:
    owner_id: str
    # The handles the account went by on its visible content, newest first.
    handles: list[str]
    # The latest case about the account itself (an account case) the reader may see, or None.
    account_case: Case | None
    cases: Page
    # The conversations it took part in (its Participant rows, annotated: see _conversation_rows).
    conversations: Page
    decisions: Page
    actions: Page
    matches: Page
    escalations: Page
    appeals: Page

    @property
    def handle(self) -> str:
        return self.handles[0] if self.handles else ""


def _page(qs, number) -> Page:
    # get_page: a page number that is not one (text, 0, past the end) shows the nearest page,
    # never an error.
    return Paginator(qs, PER_PAGE).get_page(number)


def account_overview(user, owner_id: str, pages: Mapping[str, str]) -> AccountOverview | None:
    """The account's records that `user` may see, one page per section (`pages`: the query
    string, ?cases_page=2 and so on); None when they may see no case about it and no case of a
    conversation it took part in (an unknown account, or one whose every case is outside their
    queues: they do not learn it exists).

    Sixteen queries whatever the account's size (a count and a page per section, the handles,
    the account case), one more for a reviewer's queues; a section with nothing to show reads no
    page. Two queries (three for a reviewer) when there is nothing to show at all.
    """
    visible = visible_cases(user)
    cases = visible.filter(content_item__owner_id=owner_id)
    case_ids = cases.values("pk")
    case_page = _page(_case_rows(cases), pages.get("cases_page"))
    conversation_page = _page(
        _conversation_rows(owner_id, visible), pages.get("conversations_page")
    )
    if not case_page.paginator.count and not conversation_page.paginator.count:
        return None

    def number(section):
        return pages.get(f"{section}_page")

    # What was decided and done on a case this person is re-reviewing blind stays hidden here
    # too: its decisions, actions, escalations and appeals (its files' matches do not tell).
    blind = blind_case_ids(user)
    decided_ids = cases.exclude(pk__in=blind).values("pk")

    return AccountOverview(
        owner_id=owner_id,
        handles=_handles(owner_id, case_ids, visible.values("pk")),
        account_case=_account_case(owner_id, visible),
        cases=case_page,
        conversations=conversation_page,
        decisions=_page(
            _decisions(owner_id, decided_ids, visible.exclude(pk__in=blind).values("pk")),
            number("decisions"),
        ),
        actions=_page(
            EnforcementAction.objects.filter(case__in=decided_ids)
            .select_related("created_by", "reversed_by")
            .order_by("-created_at", "-pk"),
            number("actions"),
        ),
        matches=_page(
            Match.objects.filter(media__in=_media(owner_id, case_ids))
            .select_related("entry__bank", "entry__exchange", "media")
            # Which case the matched file came in with: its report's, or its flag's.
            .annotate(case_id=Coalesce(F("media__report__case_id"), F("media__flag__case_id")))
            .order_by("-matched_at", "-pk"),
            number("matches"),
        ),
        escalations=_page(
            visible_to(user, _account_escalations(owner_id))
            .exclude(cases__in=blind)
            .annotate(cases_count=Count("cases", distinct=True))
            .order_by("-created_at", "-pk"),
            number("escalations"),
        ),
        appeals=_page(
            Appeal.objects.filter(case__in=decided_ids)
            .select_related("decision", "outcome")
            .order_by("-created_at", "-pk"),
            number("appeals"),
        ),
    )


def _count(qs: QuerySet):
    """How many rows `qs` (a correlated subquery) has, as one value: COUNT as a plain function,
    not an aggregate (no GROUP BY), 0 when none."""
    return Coalesce(
        Subquery(qs.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")), 0
    )


def _conversation_rows(owner_id: str, visible: QuerySet[Case]) -> QuerySet[Participant]:
    """The account's part in each conversation with a case the reader may see, newest case
    first: its Participant row (role, age and how it is known, whether it is the reported
    account) with the conversation, annotated with the latest such case (`case_id`,
    `case_status`, `case_created_at`), how many messages it sent (`sent`) and how many of those
    were reported (`reported_sent`), and how many minors are in the conversation (`minors`).
    One query for a page of rows, whatever the conversations' sizes."""
    latest = visible.filter(content_item=OuterRef("conversation")).order_by("-created_at", "-pk")
    sent = Message.objects.filter(sender=OuterRef("pk"))
    return (
        Participant.objects.filter(
            account_id=owner_id, conversation__type=ContentItem.Type.CONVERSATION
        )
        .annotate(case_id=Subquery(latest.values("pk")[:1]))
        .filter(case_id__isnull=False)
        .annotate(
            case_status=Subquery(latest.values("status")[:1]),
            case_created_at=Subquery(latest.values("created_at")[:1]),
            sent=_count(sent),
            reported_sent=_count(sent.filter(reported=True)),
            minors=_count(
                Participant.objects.filter(
                    conversation=OuterRef("conversation"), role=Participant.Role.MINOR
                )
            ),
        )
        .select_related("conversation")
        .order_by("-case_created_at", "-pk")
    )


def _decisions(owner_id: str, decided_ids, seen_ids) -> QuerySet[Decision]:
    """Decisions on the account's own content (`decided_ids`), and those about it made on
    conversations it does not own: about its account, or about a message it sent (`seen_ids`:
    the cases the reader may see and is not re-reviewing blind). Each with the message it was
    about, when about one (`target_text`)."""
    # A decision about an account or a message names something of its case's conversation: the
    # account took part in it. Looking there first keeps the search to its conversations.
    theirs = Participant.objects.filter(account_id=owner_id).values("conversation")
    message = Message.objects.filter(
        conversation=OuterRef("case__content_item"), platform_id=OuterRef("target_ref")
    )
    about_account = Q(target=Decision.Target.ACCOUNT, target_ref=owner_id) | Q(
        Exists(message.filter(sender__account_id=owner_id)), target=Decision.Target.MESSAGE
    )
    elsewhere = Q(case__in=seen_ids, case__content_item__in=theirs) & about_account
    return (
        Decision.objects.filter(Q(case__in=decided_ids) | elsewhere)
        .select_related("reviewer", "case__content_item")
        # Read only for a decision about a message (the template asks no other).
        .annotate(target_text=Subquery(message.values("text")[:1]))
        .order_by("-created_at", "-pk")
    )


def _account_case(owner_id: str, visible: QuerySet[Case]) -> Case | None:
    # An account case's content is the account itself, by its id (reports/account_rules.py).
    return (
        visible.filter(
            content_item__type=ContentItem.Type.ACCOUNT, content_item__platform_id=owner_id
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def _case_rows(cases: QuerySet[Case]) -> QuerySet[Case]:
    """Cases newest first, with their content and how many files came with them (counted in
    the same query: the page shows how many, never the files)."""
    media_count = (
        Media.objects.filter(Q(report__case=OuterRef("pk")) | Q(flag__case=OuterRef("pk")))
        .order_by()
        # COUNT as a plain function, not an aggregate: no GROUP BY, one row per case.
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    return (
        cases.select_related("content_item", "queue")
        .annotate(media_count=Coalesce(Subquery(media_count), 0))
        .order_by("-created_at", "-pk")
    )


def _media(owner_id: str, case_ids) -> QuerySet[Media]:
    # The account's files through their content (indexed), then those that came with a case the
    # reader may see (a content item's later case may sit in another queue).
    return (
        Media.objects.filter(content_item__owner_id=owner_id)
        .filter(Q(report__case__in=case_ids) | Q(flag__case__in=case_ids))
        .values("pk")
    )


def _account_escalations(owner_id: str) -> QuerySet[Escalation]:
    # An escalation names the account it reports; its cases are the account's too (one gathering
    # escalation per account), but look at both so none is missed.
    through = Escalation.cases.through.objects.filter(case__content_item__owner_id=owner_id)
    return Escalation.objects.filter(
        Q(owner_id=owner_id) | Q(pk__in=through.values("escalation_id"))
    )


def _handles(owner_id: str, case_ids, visible_ids) -> list[str]:
    """The handles the account went by, newest first: on its content the reader may see, and as
    a participant of conversations with a case the reader may see (one query)."""
    owned = (
        ContentItem.objects.filter(owner_id=owner_id, cases__in=case_ids)
        .exclude(owner_handle="")
        .order_by()
        .values("owner_handle")
        .annotate(last=Max("created_at"))
    )
    taking_part = (
        Participant.objects.filter(account_id=owner_id, conversation__cases__in=visible_ids)
        .exclude(handle="")
        .order_by()
        .values("handle")
        .annotate(last=Max("created_at"))
    )
    # A handle seen both ways comes twice (with its two times): the newest is kept.
    rows = owned.union(taking_part, all=True).order_by("-last", "owner_handle")
    handles: list[str] = []
    for row in rows[: 2 * HANDLES_SHOWN]:
        if row["owner_handle"] not in handles:
            handles.append(row["owner_handle"])
    return handles[:HANDLES_SHOWN]
