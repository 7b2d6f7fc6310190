"""What an account case's page lists: the evidence reports add up to about the account (its
reported posts and conversations) and the minors it was in contact with. A fixed number of
queries whatever the account's history; no media (a file is fetched only on its own case)."""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, Subquery

from moderation.cases.access import visible_cases
from moderation.cases.accounts import AccountTally, account_tally, evidence_cases, minor_contacts
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from moderation.review.selectors import blind_case_ids
from reports.models import ContentItem, Message, Participant

SHOWN = 50


@dataclass(frozen=True)
class AccountEvidence:
    account_id: str
    tally: AccountTally
    total: int
    # The latest evidence cases (each with `latest_action`, `reported_sent`, `minors` annotated
    # and `viewable`: whether this reader may open it).
    cases: list[Case]
    minors: list[Participant]


def account_case_evidence(case: Case, user) -> AccountEvidence | None:
    """The evidence of an account case (None for any other case)."""
    item = case.content_item
    if item.type != ContentItem.Type.ACCOUNT:
        return None
    account = item.platform_id or item.owner_id
    latest_action = (
        Decision.objects.filter(case=OuterRef("pk")).order_by("-created_at", "-pk").values("action")
    )
    sent = (
        Message.objects.filter(
            conversation=OuterRef("content_item"), sender__account_id=account, reported=True
        )
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    minors = (
        Participant.objects.filter(
            conversation=OuterRef("content_item"), role=Participant.Role.MINOR
        )
        .exclude(account_id=account)
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    cases = evidence_cases(account)
    total = cases.count()
    shown = list(
        cases.annotate(
            latest_action=Subquery(latest_action[:1]),
            reported_sent=Subquery(sent),
            minors=Subquery(minors),
        )[:SHOWN]
    )
    viewable = set(
        visible_cases(user).filter(pk__in=[c.pk for c in shown]).values_list("pk", flat=True)
    )
    blind = set(blind_case_ids(user).values_list("case_id", flat=True))
    for c in shown:
        # Beyond the reader's queues: only that the case exists, as a count would say. Being
        # re-reviewed blind by the reader: not what was decided on it.
        c.viewable = c.pk in viewable
        shows_decision = c.viewable and c.pk not in blind and c.latest_action
        c.latest_action_label = Decision.Action(c.latest_action).label if shows_decision else ""
    contacts = list(
        minor_contacts(account)
        .filter(Q(conversation__cases__isnull=False))
        .select_related("conversation")
        .order_by("account_id", "pk")
        .distinct()[:SHOWN]
    )
    return AccountEvidence(
        account_id=account,
        tally=account_tally(account),
        total=total,
        cases=shown,
        minors=contacts,
    )
