"""What reports say about one account, added up: the evidence an account case lists, and whether
it has reached the thresholds (AccountCaseSettings) at which the account itself is reviewed.

An account's evidence is every case about something it posted or sent: content it owns, and
conversations in which it is the reported participant or sent a reported message. Its contact
with minors is the number of different minors in reported conversations it took part in while
not known to be a minor itself."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from moderation.cases.models import Case
from reports.models import ContentItem, Message, Participant


@dataclass(frozen=True)
class AccountTally:
    account_id: str
    # Different things it posted or sent that were reported or flagged.
    reported_items: int
    # Different minors in reported conversations with it.
    minor_contacts: int


def _conversations_of(account_id: str):
    """Conversations in which the account is the reported participant or sent a reported
    message (ids)."""
    sent_reported = Message.objects.filter(
        conversation=OuterRef("conversation"), sender=OuterRef("pk"), reported=True
    )
    return (
        Participant.objects.filter(account_id=account_id)
        .filter(Q(reported=True) | Exists(sent_reported))
        .values("conversation")
    )


def evidence_items(account_id: str):
    """The content items that count as evidence about the account (a queryset)."""
    return ContentItem.objects.filter(
        Q(owner_id=account_id) & ~Q(type=ContentItem.Type.ACCOUNT)
        | Q(pk__in=_conversations_of(account_id))
    ).filter(cases__isnull=False)


def minor_contacts(account_id: str):
    """The minors (participants) in reported conversations with the account, when it is not
    known to be a minor itself (a queryset)."""
    with_account = Participant.objects.filter(account_id=account_id).exclude(
        role=Participant.Role.MINOR
    )
    return Participant.objects.filter(
        role=Participant.Role.MINOR,
        conversation__in=with_account.values("conversation"),
        conversation__cases__isnull=False,
    ).exclude(account_id=account_id)


def account_tally(account_id: str) -> AccountTally:
    return AccountTally(
        account_id=account_id,
        reported_items=evidence_items(account_id).distinct().count(),
        minor_contacts=minor_contacts(account_id).values("account_id").distinct().count(),
    )


def evidence_cases(account_id: str):
    """The latest case of each evidence item, newest first (a queryset, for a paged list)."""
    return (
        Case.objects.filter(content_item__in=evidence_items(account_id).values("pk"))
        .select_related("content_item", "queue")
        .order_by("-created_at", "-pk")
    )


# At most this many things a decision on an account case asks the platform to remove: beyond
# it, the account's suspension is what acts.
MAX_EVIDENCE_TARGETS = 500


def evidence_targets(account_id: str) -> list[str]:
    """What a decision on an account case removes: each reported thing the account posted (its
    platform id, else its URL) and each reported message it sent (the message's platform id).
    Conversations themselves are not removed: the child in one is not the one acted against."""
    posts = (
        evidence_items(account_id)
        .exclude(type=ContentItem.Type.CONVERSATION)
        .filter(owner_id=account_id)
        .distinct()
        .order_by("pk")
        .values_list("platform_id", "url")[:MAX_EVIDENCE_TARGETS]
    )
    targets = [platform_id or url for platform_id, url in posts if platform_id or url]
    messages = (
        Message.objects.filter(
            sender__account_id=account_id, reported=True, conversation__cases__isnull=False
        )
        .distinct()
        .order_by("pk")
        .values_list("platform_id", flat=True)[: MAX_EVIDENCE_TARGETS - len(targets)]
    )
    return targets + list(messages)


def latest_evidence_cases(account_id: str) -> list[Case]:
    """The latest case of each evidence item: what an account case's escalation gathers."""
    latest: dict[int, Case] = {}
    for case in evidence_cases(account_id).select_related(None)[:MAX_EVIDENCE_TARGETS]:
        latest.setdefault(case.content_item_id, case)
    return list(latest.values())
