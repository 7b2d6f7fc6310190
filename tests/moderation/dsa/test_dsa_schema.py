"""Every statement Vigil produces passes the Transparency Database's own validation rules.

The allowed values below are copied from the Commission's code (digital-services-act/
transparency-database, app/Models/Statement.php and StatementStoreRequest.php), independently of
moderation/dsa/schema.py, so a typo in Vigil's tables fails here.
"""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from moderation.decisions.rules import POLICIES
from moderation.dsa import schema as dsa_schema
from moderation.dsa import selectors as dsa

VISIBILITIES = {
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
}
ACCOUNTS = {"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"}
GROUNDS = {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
CATEGORIES = {
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
    "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
    "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
}
KEYWORDS = {
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
    "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",
    "KEYWORD_ONLINE_BULLYING_INTIMIDATION",
    "KEYWORD_TERRORIST_CONTENT",
    "KEYWORD_SUICIDE",
    "KEYWORD_SELF_MUTILATION",
    "KEYWORD_NUDITY",
}
CONTENT_TYPES = {
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
}
SOURCES = {
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
}
AUTOMATED_DECISIONS = {
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
}
# The EU's and the EEA's member states.
COUNTRIES = set(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO".split()  # noqa: SIM905
)
LIMITS = {
    "decision_facts": 5000,
    "illegal_content_legal_ground": 500,
    "illegal_content_explanation": 2000,
    "incompatible_content_ground": 500,
    "incompatible_content_explanation": 2000,
    "content_type_other": 500,
    "puid": 500,
}
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check(statement: dict) -> list[str]:
    """The database's rules, as StatementStoreRequest states them; the broken ones."""
    s = dsa_schema.api_statement(statement)
    broken = []

    def rule(ok, what):
        if not ok:
            broken.append(what)

    rule(s.get("decision_visibility") or s.get("decision_account"), "a decision field")
    rule(set(s.get("decision_visibility", [])) <= VISIBILITIES, "decision_visibility")
    rule(s.get("decision_account", "DECISION_ACCOUNT_SUSPENDED") in ACCOUNTS, "decision_account")
    rule(s["decision_ground"] in GROUNDS, "decision_ground")
    if s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT":
        rule(s.get("illegal_content_legal_ground"), "illegal_content_legal_ground")
        rule(s.get("illegal_content_explanation"), "illegal_content_explanation")
        rule("incompatible_content_ground" not in s, "no incompatible fields")
    else:
        rule(s.get("incompatible_content_ground"), "incompatible_content_ground")
        rule(s.get("incompatible_content_explanation"), "incompatible_content_explanation")
        rule("illegal_content_legal_ground" not in s, "no illegal fields")
    rule(s["category"] in CATEGORIES, "category")
    rule(set(s.get("category_specification", [])) <= KEYWORDS, "category_specification")
    rule(s["content_type"] and set(s["content_type"]) <= CONTENT_TYPES, "content_type")
    rule(
        ("CONTENT_TYPE_OTHER" in s["content_type"]) == bool(s.get("content_type_other")),
        "content_type_other with CONTENT_TYPE_OTHER only",
    )
    rule(s["territorial_scope"] and set(s["territorial_scope"]) <= COUNTRIES, "territorial_scope")
    rule(re.fullmatch(r"[A-Z]{2}", s.get("content_language", "EN")), "content_language")
    for field in ("application_date", "content_date"):
        rule(DAY.match(s[field]), f"{field} format")
    rule(date.fromisoformat(s["application_date"]) >= date(2020, 1, 1), "application_date")
    rule(date.fromisoformat(s["content_date"]) >= date(2000, 1, 1), "content_date")
    for field in ("end_date_visibility_restriction", "end_date_account_restriction"):
        if field in s:
            rule(s[field] >= s["application_date"], f"{field} after application_date")
    rule(s["source_type"] in SOURCES, "source_type")
    rule(s["automated_detection"] in ("Yes", "No"), "automated_detection")
    rule(s["automated_decision"] in AUTOMATED_DECISIONS, "automated_decision")
    rule(re.fullmatch(r"[A-Za-z0-9_-]+", s["puid"]), "puid alphabet")
    for field, limit in LIMITS.items():
        rule(len(s.get(field, "")) <= limit, f"{field} length")
    return broken


@pytest.mark.django_db
def test_every_kind_of_statement_passes_the_databases_rules(dsa_decide, dsa_bank_acts):
    n = 0
    for policy, _ in POLICIES:
        for action in ("remove", "age_restrict", "suspend", "escalate"):
            # A CSAM finding can only be an escalation; the milder actions on child nudity.
            category = "harassment"
            if policy.startswith("child-safety"):
                category = "csam" if action == "escalate" else "child_nudity"
            n += 1
            dsa_decide(action, policy, category, content_type="account", platform_id=f"a b/{n}")
    dsa_decide("remove", "spam", "spam", content_type="post", posted_at=timezone.now())
    dsa_bank_acts()
    now = timezone.now()
    statements = list(dsa.statements_iter(since=now - timedelta(days=1), until=now))
    assert len(statements) == len(POLICIES) * 4 + 2
    for envelope in statements:
        assert check(envelope["statement"]) == [], envelope["id"]


def test_the_rules_catch_a_wrong_value():
    statement = dict.fromkeys(dsa_schema.FIELDS) | {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DELETED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": "x",
        "incompatible_content_explanation": "x",
        "category": "STATEMENT_CATEGORY_CHILD_SAFETY",
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "territorial_scope": ["DE"],
        "application_date": "2026-11-01",
        "content_date": "2026-11-01",
        "decision_facts": "x",
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes",
        "automated_decision": "Yes",
        "puid": "a.b",
    }
    assert check(statement) == [
        "decision_visibility",
        "category",
        "automated_decision",
        "puid alphabet",
    ]
