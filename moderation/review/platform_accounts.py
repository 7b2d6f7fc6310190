"""Reads for the account page: everything Vigil holds about one platform account (the owner of
reported content, `ContentItem.owner_id`), as far as the person reading may see it.

What a person may see is the rule of the pages it links to: a case as on the case page
(moderation/cases/access.py), an escalation as on the escalation page
(moderation/escalations/access.py); decisions, actions, matches and appeals go with their case.
Every section is a page of its own list, newest first: a count and one page of rows, so the page
reads the same number of queries for an account with two cases as for one with two thousand.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Func, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from moderation.banks.models import Match
from moderation.cases.access import visible_cases
from moderation.cases.models import Case
from moderation.decisions.models import Appeal, Decision
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from moderation.escalations.selectors import visible_to
from moderation.review.selectors import blind_case_ids
from reports.models import ContentItem, Media

PER_PAGE = 20
# How many of the account's handles the heading names (a handle can change; the newest first).
HANDLES_SHOWN = 5
# The sections, in the order the page shows them; each pages with ?<name>_page=N.
SECTIONS = ("cases", "decisions", "actions", "matches", "escalations", "appeals")


@dataclass
class AccountOverview:
    owner_id: str
    # The handles the account went by on its visible content, newest first.
    handles: list[str]
    cases: Page
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
    string, ?cases_page=2 and so on); None when they may see no case about it (an unknown
    account, or one whose every case is outside their queues: they do not learn it exists).

    Thirteen queries whatever the account's size (a count and a page per section, the handles),
    one more for a reviewer's queues; a section with nothing to show reads no page. One query
    (two for a reviewer) when there is nothing to show at all.
    """
    cases = visible_cases(user).filter(content_item__owner_id=owner_id)
    case_ids = cases.values("pk")
    case_page = _page(_case_rows(cases), pages.get("cases_page"))
    if not case_page.paginator.count:
        return None

    def number(section):
        return pages.get(f"{section}_page")

    # What was decided and done on a case this person is re-reviewing blind stays hidden here
    # too: its decisions, actions, escalations and appeals (its files' matches do not tell).
    blind = blind_case_ids(user)
    decided_ids = cases.exclude(pk__in=blind).values("pk")

    return AccountOverview(
        owner_id=owner_id,
        handles=_handles(owner_id, case_ids),
        cases=case_page,
        decisions=_page(
            Decision.objects.filter(case__in=decided_ids)
            .select_related("reviewer", "case")
            .order_by("-created_at", "-pk"),
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


def _handles(owner_id: str, case_ids) -> list[str]:
    return list(
        ContentItem.objects.filter(owner_id=owner_id, cases__in=case_ids)
        .exclude(owner_handle="")
        .values("owner_handle")
        .annotate(last=Max("created_at"))
        .order_by("-last", "owner_handle")
        .values_list("owner_handle", flat=True)[:HANDLES_SHOWN]
    )
