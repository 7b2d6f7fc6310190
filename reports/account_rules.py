"""Account cases: when what is reported about one account adds up (AccountCaseSettings: so many
different things it posted or sent reported, or contact with so many minors), Vigil flags the
account itself, and the flag opens (or joins) a case about the account, listing the evidence
(moderation/cases/accounts.py). The flag is Vigil's own, through the same intake as any flag,
so the account case is routed, prioritised, claimed and decided like any case."""

import hashlib

from moderation.cases.accounts import (
    account_tally,
    evidence_cases,
    is_known_minor,
    is_platform_account,
)
from moderation.cases.models import AccountCaseSettings
from reports.categories import SEVERITY, Category
from reports.content import ContentFacts
from reports.models import ContentItem, Flag, Participant
from reports.services import flag_submit

# The flags' source: route rules and the case page know Vigil's own account rule by it.
ACCOUNT_RULE_SOURCE = "vigil-account-rule"


def account_case_check(*, account_id: str) -> Flag | None:
    """Flag the account when its evidence has reached a threshold; None when it has not (or
    account cases are off). Idempotent: the flag's id is the evidence it counted, so a check
    run twice, or twice at once, flags once; more evidence later adds a flag to the case."""
    rules = AccountCaseSettings.current()
    if not rules.enabled or not is_platform_account(account_id) or is_known_minor(account_id):
        # Usernames typed on the public form are not accounts to act on; a child's own reports
        # and messages are reviewed where they are, never as a case against the child.
        return None
    tally = account_tally(account_id)
    reasons = tally.reasons(rules)
    if not reasons:
        return None
    cases = list(
        evidence_cases(account_id).select_related(None).only("category", "involves_child")[:500]
    )
    if tally.minor_contacts >= rules.min_minor_contacts:
        category = Category.GROOMING
    else:
        category = max((c.category for c in cases), key=lambda c: SEVERITY[c])
    flag, _ = flag_submit(
        source=ACCOUNT_RULE_SOURCE,
        external_id=f"{_key(account_id)}:{tally.reported_items}:{tally.minor_contacts}",
        category=category,
        score=1.0,
        content=ContentFacts(
            platform_id=account_id,
            type=ContentItem.Type.ACCOUNT,
            owner_id=account_id,
            owner_handle=_handle(account_id),
        ),
        description="Account case: " + "; ".join(reasons) + ".",
        # More evidence than any earlier flag counted: a decided account case opens again.
        news=(f"more evidence about the account: {'; '.join(reasons)}",),
        involves_child=tally.minor_contacts > 0 or any(c.involves_child for c in cases),
        actor_label="account rule",
    )
    return flag


def _key(account_id: str) -> str:
    """The account in the flag's id: itself, or its SHA-256 when too long to fit with the counts
    (Flag.external_id holds 255 characters; ids may be as long)."""
    if len(account_id) <= 200:
        return account_id
    return "sha256-" + hashlib.sha256(account_id.encode()).hexdigest()


def _handle(account_id: str) -> str:
    item = (
        ContentItem.objects.filter(owner_id=account_id)
        .exclude(owner_handle="")
        .order_by("-pk")
        .values_list("owner_handle", flat=True)
        .first()
    )
    if item:
        return item
    return (
        Participant.objects.filter(account_id=account_id)
        .exclude(handle="")
        .order_by("-pk")
        .values_list("handle", flat=True)
        .first()
        or ""
    )
