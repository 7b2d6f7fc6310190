"""What the platform is told about an enforcement action: exactly what it needs to enforce it.

Built only from the action, its case's content item and category, and its decision's action and
policy. Reports, reporters, flags, reviewer notes and reasons typed by people are never read
here, so nothing about who reported can reach the platform, nor through it the content's owner.
The format is documented for platform engineers in docs/webhooks.md: change both together.
"""

from moderation.decisions.rules import POLICIES
from moderation.enforcement.models import EnforcementAction, WebhookDelivery
from reports.categories import Category

SCHEMA_VERSION = 1

# A self-report names its reporter: the person shown. The platform is told what the material is.
PAYLOAD_CATEGORY = {Category.SELF_GENERATED: Category.CSAM}

ON_ACCOUNT = frozenset({"suspend_account", "warn", "safety_notice"})

# Where anyone can report child sexual abuse material instead of sharing it.
REPORT_CSAM_AT = "https://report.cybertip.org"

NOTICES = {
    EnforcementAction.Kind.WARN: (
        "Your content broke our rules",
        "We reviewed content you posted and found that it breaks our rules on {policy}. "
        "It has been or may be restricted or removed. Repeated or serious violations can lead to "
        "your account being suspended. If you think we made a mistake, you can appeal this "
        "decision.",
    ),
    EnforcementAction.Kind.SAFETY_NOTICE: (
        "Content you shared shows a child being harmed",
        "Content you shared appears to show the sexual abuse or exploitation of a child. "
        "Sharing it is illegal, even to express outrage, as a joke, or to find the people "
        "responsible, and every share revictimises the child, whose abuse is repeated each time "
        "the content is seen. Please do not share it again, and delete any copies you hold. "
        "If you come across content like this, report it instead of sharing it: use the "
        "Report option on the content, or report it to NCMEC's CyberTipline at "
        f"{REPORT_CSAM_AT} (outside the US, your national hotline is listed at "
        "https://www.inhope.org).",
    ),
}

_POLICY_LABELS = dict(POLICIES)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def notice_for(action: EnforcementAction) -> dict | None:
    """The message the platform shows the content's owner, for notice actions."""
    if action.kind not in NOTICES:
        return None
    subject, text = NOTICES[action.kind]
    policy = action.decision.policy if action.decision_id else ""
    return {
        "to_account_id": action.target,
        "subject": subject,
        "text": text.format(policy=_POLICY_LABELS.get(policy, "community standards").lower()),
    }


def build_payload(delivery: WebhookDelivery) -> dict:
    """The JSON body of a delivery. The same delivery always yields the same body."""
    action = delivery.action
    case = action.case
    item = case.content_item
    decision = action.decision if action.decision_id else None
    payload = {
        "schema_version": SCHEMA_VERSION,
        "delivery_id": str(delivery.uuid),
        "event": delivery.event,
        "action": {
            "id": action.pk,
            "kind": action.kind,
            "target_type": "account" if action.kind in ON_ACCOUNT else "content",
            "target": action.target,
            "requested_at": _iso(action.created_at),
        },
        "content": {
            "id": item.platform_id or None,
            "url": item.url or None,
            "type": item.type,
            "owner_account_id": item.owner_id or None,
        },
        "case": {
            "id": case.pk,
            "category": PAYLOAD_CATEGORY.get(case.category, case.category),
        },
        # A reviewer's decision, or an automatic action on a match to known material.
        "basis": "decision" if decision else "known_material_match",
        "decision": (
            {
                "id": decision.pk,
                "action": decision.action,
                "policy": decision.policy,
                "decided_at": _iso(decision.created_at),
            }
            if decision
            else None
        ),
        "notice": notice_for(action),
    }
    if delivery.event == WebhookDelivery.Event.REVERSED:
        payload["reversal"] = {
            "reversed_at": _iso(action.reversed_at),
            # "review" (a reviewer corrected it) or "appeal" (the owner's appeal was upheld).
            "source": action.reversal_source or "review",
        }
    return payload
