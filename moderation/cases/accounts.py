"""What reports say about one account, added up: the evidence an account case lists, and whether
it has reached the thresholds (AccountCaseSettings) at which the account itself is reviewed.

An account's evidence is every case about something it posted or sent: content it owns, and
conversations in which it is the reported participant or sent a reported message. Its contact
with minors is the number of different minors in reported conversations it took part in while
not known to be a minor itself."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, Subquery

from moderation.cases.models import AccountCaseSettings, Case
from moderation.decisions.models import Decision
from reports.models import ContentItem, Message, Participant


@dataclass(frozen=True)
class AccountTally:
    account_id: str
    # Different things it posted or sent that were reported or flagged.
    reported_items: int
    # Different minors in reported conversations with it.
    minor_contacts: int

    def reasons(self, rules: AccountCaseSettings) -> list[str]:
        """The thresholds of `rules` this tally reaches, in words (the flag's description); empty
        when it reaches none."""
        reasons = []
        if self.reported_items >= rules.min_reported_items:
            reasons.append(f"{self.reported_items} different things it posted or sent reported")
        if self.minor_contacts >= rules.min_minor_contacts:
            reasons.append(f"in reported conversations with {self.minor_contacts} minors")
        return reasons


# Account ids the public form gives (usernames as typed, reports/views.py): never a platform
# account, so never tallied or flagged.
FORM_ACCOUNT_PREFIX = "form:"


def _conversations_of(account_id: str):
    """Conversations in which the account, not known to be a minor there, is the reported
    participant or sent a reported message (ids). A child in a grooming conversation is never
    its evidence, whatever of theirs was marked reported."""
    sent_reported = Message.objects.filter(
        conversation=OuterRef("conversation"), sender=OuterRef("pk"), reported=True
    )
    return (
        Participant.objects.filter(account_id=account_id)
        .exclude(role=Participant.Role.MINOR)
        .filter(Q(reported=True) | Exists(sent_reported))
        .values("conversation")
    )


def evidence_items(account_id: str):
    """The content items that count as evidence about the account (a queryset)."""
    return ContentItem.objects.filter(
        Q(owner_id=account_id)
        & ~Q(type__in=[ContentItem.Type.ACCOUNT, ContentItem.Type.CONVERSATION])
        | Q(pk__in=_conversations_of(account_id))
    ).filter(cases__isnull=False)


def minor_contacts(account_id: str):
    """The minors (participants) in the reported conversations that are the account's evidence
    (a queryset): other people in a group chat it merely took part in do not count."""
    return Participant.objects.filter(
        role=Participant.Role.MINOR,
        conversation__in=_conversations_of(account_id),
        conversation__cases__isnull=False,
    ).exclude(account_id=account_id)


def is_known_minor(account_id: str) -> bool:
    """Whether a report gave the account an age under 18 somewhere: an account case is never
    opened about a child (a child's own reports and messages are reviewed where they are)."""
    return Participant.objects.filter(account_id=account_id, role=Participant.Role.MINOR).exists()


def is_platform_account(account_id: str) -> bool:
    return bool(account_id) and not account_id.startswith(FORM_ACCOUNT_PREFIX)


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


def acted_on_evidence(account_id: str) -> list[Case]:
    """The latest case of each evidence item, but those a reviewer cleared (decided, the latest
    decision no violation): what a decision on the account acts on."""
    latest_action = (
        Decision.objects.filter(case=OuterRef("pk")).order_by("-created_at", "-pk").values("action")
    )
    latest: dict[int, Case] = {}
    cases = (
        evidence_cases(account_id)
        .select_related(None)
        .select_related("content_item")
        .annotate(latest_action=Subquery(latest_action[:1]))[:MAX_EVIDENCE_TARGETS]
    )
    for case in cases:
        latest.setdefault(case.content_item_id, case)
    return [
        c
        for c in latest.values()
        if not (c.status == Case.Status.DECIDED and c.latest_action == Decision.Action.NO_VIOLATION)
    ]


def evidence_targets(account_id: str, cases: list[Case]) -> list[str]:
    """What a decision on an account case removes, of its evidence `cases` (acted_on_evidence):
    each reported thing the account posted (its platform id, else its URL) and each reported
    message it sent (the message's platform id). Conversations themselves are not removed: the
    child in one is not the one acted against."""
    targets = [
        c.content_item.platform_id or c.content_item.url
        for c in cases
        if c.content_item.type != ContentItem.Type.CONVERSATION
        and c.content_item.owner_id == account_id
    ]
    conversations = [
        c.content_item_id for c in cases if c.content_item.type == ContentItem.Type.CONVERSATION
    ]
    if conversations:
        targets += list(
            Message.objects.filter(
                conversation_id__in=conversations, sender__account_id=account_id, reported=True
            )
            .order_by("pk")
            .values_list("platform_id", flat=True)[:MAX_EVIDENCE_TARGETS]
        )
    return [t for t in targets if t][:MAX_EVIDENCE_TARGETS]
