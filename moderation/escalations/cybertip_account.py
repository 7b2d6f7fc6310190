"""Account cases in a CyberTipline report (issue 19): an escalation holding a case about an
account itself (ContentItem.Type.ACCOUNT, opened when reports about the account added up,
reports/account_rules.py) and the account's evidence cases, gathered by escalation_gather.

The account case is not an incident of its own: it has no address and no file. It contributes
the reported person (the account: its handle, and the e-mail addresses and IP captures the
platform gave with the things it owns) and one sentence in the report's additionalInfo saying
that this is an account case and why it was opened. Its evidence makes the incidents: each
conversation a chatImIncident, the posts one webPageIncident, as for any escalation.

Whose facts. An escalation gathering an account's evidence can hold content someone else owns
(a conversation reported by the other side, in which the account sent the reported messages).
A content item's owner_email and IP captures are its owner's (reports.models.IpCapture), so only
the items the reported account owns say anything about it (owned_items)."""

from dataclasses import dataclass
from datetime import datetime

from moderation.escalations.models import Escalation
from reports.models import ContentItem, Flag

# The source of the flags the account rule raises (reports/account_rules.py, ACCOUNT_RULE_SOURCE:
# intake, which moderation does not import; a test checks the two agree). Its external id is the
# evidence it counted: "<account id>:<things reported>:<minors contacted>".
ACCOUNT_RULE_SOURCE = "vigil-account-rule"


def is_account(item: ContentItem) -> bool:
    return item.type == ContentItem.Type.ACCOUNT


def owned_items(items: list[ContentItem], owner_id: str) -> list[ContentItem]:
    """The items the reported account owns (all of them when the owner is unknown: an
    escalation without an account holds one case)."""
    if not owner_id:
        return list(items)
    return [item for item in items if item.owner_id == owner_id]


@dataclass(frozen=True)
class AccountCase:
    """Why an account was reviewed as a whole: what the account rule counted when it last
    flagged it (None when no rule flag is on record before the cutoff, e.g. a platform's own
    flag about the account)."""

    account_id: str
    handle: str
    case_ids: tuple[int, ...]
    reported_items: int | None = None
    minor_contacts: int | None = None

    @property
    def reasons(self) -> list[str]:
        reasons = []
        if self.minor_contacts:
            s = "" if self.minor_contacts == 1 else "s"
            reasons.append(f"in reported conversations with {self.minor_contacts} minor{s}")
        if self.reported_items:
            n = self.reported_items
            reasons.append(
                f"{n} different thing{'s' if n != 1 else ''} it posted or sent reported or flagged"
            )
        return reasons

    def words(self, platform: str) -> str:
        """One sentence for the report's additionalInfo."""
        who = f"{self.account_id} ({self.handle})" if self.handle else self.account_id
        why = (
            f", because what was reported about it added up: {'; '.join(self.reasons)}"
            if self.reasons
            else ""
        )
        return (
            f"Account case: {platform} reviewed the account {who} as a whole{why}. The "
            "conversations and content in this report are its evidence."
        )


def _counted(flag: Flag | None) -> tuple[int | None, int | None]:
    """(things reported, minors contacted) from an account rule flag's external id."""
    if flag is None:
        return None, None
    _, items, minors = (flag.external_id.rsplit(":", 2) + ["", ""])[:3]
    try:
        return int(items), int(minors)
    except ValueError:
        return None, None


def account_cases(
    escalation: Escalation, items: list[ContentItem], cutoff: datetime | None
) -> list[AccountCase]:
    """The account cases among the escalation's content (`items`), each with what the account
    rule last counted for it before `cutoff` (the approval: a flag raised later belongs to a
    later report). Two queries when there are any, none otherwise."""
    accounts = [item for item in items if is_account(item)]
    if not accounts:
        return []
    flags = Flag.objects.filter(content_item__in=accounts, source=ACCOUNT_RULE_SOURCE)
    if cutoff is not None:
        flags = flags.filter(created_at__lte=cutoff)
    latest: dict[int, Flag] = {}
    for flag in flags.order_by("-created_at", "-pk"):
        latest.setdefault(flag.content_item_id, flag)
    cases: dict[int, list[int]] = {}
    for case_id, item_id in escalation.cases.filter(content_item__in=accounts).values_list(
        "pk", "content_item_id"
    ):
        cases.setdefault(item_id, []).append(case_id)
    found = []
    for item in accounts:
        reported_items, minor_contacts = _counted(latest.get(item.pk))
        found.append(
            AccountCase(
                account_id=item.platform_id or item.owner_id,
                handle=item.owner_handle,
                case_ids=tuple(sorted(cases.get(item.pk, []))),
                reported_items=reported_items,
                minor_contacts=minor_contacts,
            )
        )
    return found
