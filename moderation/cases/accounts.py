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
