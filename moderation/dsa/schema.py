"""The EU DSA Transparency Database's statement-of-reasons schema, and Vigil's mapping onto it.

Field names and allowed values are taken from the Commission's own code, github.com/
digital-services-act/transparency-database: the validation rules in
app/Http/Requests/StatementStoreRequest.php, the enumerations in app/Models/Statement.php, the API
documentation page (every attribute, its limits and formats: dates YYYY-MM-DD, puid of
[A-Za-z0-9_-] up to 500 characters and unique within the platform, decision_facts up to 5000,
legal/contractual grounds up to 500, explanations up to 2000) and its CSV export
(app/Exports/StatementExportTrait.php: column names; list fields are written as the JSON arrays
they are stored as, text on one line). The Commission announced a second schema for 1 July 2025;
everything that depends on the schema's values is in this module, so moving to it is a change
here only.

Grounds: child sexual abuse material and the solicitation of children are illegal content, under
Directive 2011/93/EU as each member state transposed it; everything else is reported as
incompatible with the platform's terms (the policy it broke), which claims no more than Vigil
knows. `decision_facts` and the explanations are fixed texts per policy: never reviewer notes,
never anything about who reported, never the sharer's judged intent (the database forbids
personal data).
"""

import json
from dataclasses import dataclass

from django.conf import settings

from moderation.decisions.models import Decision
from moderation.decisions.rules import POLICIES
from reports.models import ContentItem

# Decisions that restrict content, and what each restricts: (visibility, account suspended).
RESTRICTING = {
    Decision.Action.REMOVE: ("DECISION_VISIBILITY_CONTENT_REMOVED", False),
    Decision.Action.AGE_RESTRICT: ("DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED", False),
    Decision.Action.SUSPEND: ("DECISION_VISIBILITY_CONTENT_REMOVED", True),
    Decision.Action.ESCALATE: ("DECISION_VISIBILITY_CONTENT_REMOVED", True),
}

ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
CSAM_LAW = (
    "Directive 2011/93/EU on combating the sexual abuse and sexual exploitation of children and "
    "child pornography, Article 5, as transposed into national law"
)
GROOMING_LAW = (
    "Directive 2011/93/EU on combating the sexual abuse and sexual exploitation of children and "
    "child pornography, Article 6 (solicitation of children for sexual purposes), as transposed "
    "into national law"
)


@dataclass(frozen=True)
class Ground:
    """How one Vigil policy is reported: DSA category, keywords, and illegal (with the law) or
    incompatible with the terms (with the clause)."""

    category: str
    keywords: tuple[str, ...]
    explanation: str
    law: str = ""  # set: illegal content under this law; empty: incompatible with the terms


# Vigil's policies (moderation/review/rules.py) to DSA categories and grounds: the one table.
GROUNDS = {
    "child-safety/sexual-exploitation": Ground(
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        ("KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",),
        "The content was found to be child sexual abuse material.",
        CSAM_LAW,
    ),
    "child-safety/grooming": Ground(
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        ("KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",),
        "The content was found to solicit a child for sexual purposes.",
        GROOMING_LAW,
    ),
    "child-safety/nudity": Ground(
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        (),
        "The content was found to show the nudity of a minor, which the terms do not allow.",
    ),
    "child-safety/sextortion": Ground(
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        (),
        "The content was found to threaten the sharing of intimate images to extort.",
    ),
    "violent-extremism": Ground(
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        (),
        "The content was found to promote or glorify violent extremism.",
    ),
    "harassment": Ground(
        "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
        ("KEYWORD_ONLINE_BULLYING_INTIMIDATION",),
        "The content was found to harass, threaten or bully a person.",
    ),
    "self-harm": Ground(
        "STATEMENT_CATEGORY_SELF_HARM",
        (),
        "The content was found to encourage self-harm or suicide.",
    ),
    "spam": Ground(
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        (),
        "The content was found to be spam or a scam.",
    ),
    "community-standards": Ground(
        "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
        (),
        "The content was found to break the platform's community standards.",
    ),
}
# A policy no longer offered (older data): reported as against the terms, under its own name.
OTHER_GROUND = GROUNDS["community-standards"]
# What a known-material bank's match means: the material is known child sexual abuse material.
BANK_POLICY = "child-safety/sexual-exploitation"
POLICY_LABELS = dict(POLICIES)

# ContentItem.type to content_type (with content_type_other where the list has no entry).
CONTENT_TYPES = {
    ContentItem.Type.IMAGE: (["CONTENT_TYPE_IMAGE"], None),
    ContentItem.Type.VIDEO: (["CONTENT_TYPE_VIDEO"], None),
    ContentItem.Type.POST: (["CONTENT_TYPE_TEXT"], None),
    ContentItem.Type.MESSAGE: (["CONTENT_TYPE_TEXT"], None),
    ContentItem.Type.ACCOUNT: (["CONTENT_TYPE_OTHER"], "Account profile"),
    ContentItem.Type.OTHER: (["CONTENT_TYPE_OTHER"], "Other user content"),
}

# The Transparency Database's CSV columns (its export's names and order) for the fields Vigil
# fills or may fill; `puid` last. Every statement has every key (None when not applicable).
FIELDS = [
    "decision_visibility",
    "decision_visibility_other",
    "end_date_visibility_restriction",
    "decision_monetary",
    "decision_monetary_other",
    "end_date_monetary_restriction",
    "decision_provision",
    "end_date_service_restriction",
    "decision_account",
    "end_date_account_restriction",
    "account_type",
    "decision_ground",
    "decision_ground_reference_url",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "incompatible_content_ground",
    "incompatible_content_explanation",
    "incompatible_content_illegal",
    "category",
    "category_addition",
    "category_specification",
    "category_specification_other",
    "content_type",
    "content_type_other",
    "content_language",
    "content_date",
    "territorial_scope",
    "application_date",
    "decision_facts",
    "source_type",
    "source_identity",
    "automated_detection",
    "automated_decision",
    "puid",
]
LIST_FIELDS = frozenset(
    {
        "decision_visibility",
        "category_addition",
        "category_specification",
        "content_type",
        "territorial_scope",
    }
)


def ground_fields(policy: str, *, automated: bool) -> dict:
    """Category, ground and the facts relied on, for a decision under `policy` (automated: by a
    known-material bank's policy, with no reviewer)."""
    ground = GROUNDS.get(policy, OTHER_GROUND)
    label = POLICY_LABELS.get(policy, policy)
    how = (
        "A match to a list of hashes of known child sexual abuse material; the platform acted "
        "on it automatically. "
        if automated
        else f"A trained reviewer assessed the content against the policy '{label}'. "
    )
    fields = {
        "category": ground.category,
        "category_specification": list(ground.keywords),
        "decision_facts": how + ground.explanation,
    }
    if ground.law:
        fields |= {
            "decision_ground": ILLEGAL,
            "illegal_content_legal_ground": ground.law,
            "illegal_content_explanation": ground.explanation,
        }
    else:
        fields |= {
            "decision_ground": INCOMPATIBLE,
            "incompatible_content_ground": f"Terms of service: {label}",
            "incompatible_content_explanation": ground.explanation,
        }
        if settings.DSA_TERMS_URL:
            fields["decision_ground_reference_url"] = settings.DSA_TERMS_URL
    return fields


def csv_value(field: str, value) -> str:
    """A field as the Transparency Database's CSV writes it: lists as JSON arrays, text on one
    line, nothing for an absent field."""
    if value is None:
        return ""
    if field in LIST_FIELDS:
        return json.dumps(value, separators=(",", ":"))
    return str(value).replace("\r", " ").replace("\n", " ")


def api_statement(statement: dict) -> dict:
    """The statement as the create API takes it: absent fields left out."""
    return {k: v for k, v in statement.items() if v is not None and v != []}
