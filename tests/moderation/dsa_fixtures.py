"""Building decided cases for the statement-of-reasons tests, through the real services."""

import itertools

import pytest
from django.db import transaction

from accounts.roles import Role
from moderation.banks.models import HashBank
from moderation.banks.policy import case_apply_matches
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide
from reports.models import Report
from reports.services import flag_submit
from tests.intake import intake_fields

CHILD_FIELDS = {"intent": "malicious", "classification": "A2"}
_ids = itertools.count(1)


@pytest.fixture
def dsa_decide(make_user, submit_report):
    """Report content (or flag it), have a reviewer decide it; returns the decision."""
    counter = itertools.count(1)

    def make(
        action="remove",
        policy="harassment",
        category="harassment",
        *,
        flagged=False,
        reporter_kind=Report.ReporterKind.PLATFORM_USER,
        content_type="image",
        platform_id=None,
        owner_id="owner-secret-77",
        language="",
        posted_at=None,
        notes="",
        **extra,
    ):
        n = next(_ids)
        platform_id = f"post-{n}" if platform_id is None else platform_id
        content = {
            "platform_id": platform_id,
            "content_url": f"https://social.example/p/{n}",
            "content_type": content_type,
            "owner_id": owner_id,
            "language": language,
            "posted_at": posted_at,
            "category": category,
        }
        if flagged:
            flag_submit(
                **intake_fields(
                    source="classifier-x",
                    external_id=f"x-{n}",
                    score=0.9,
                    actor_label="t",
                    **content,
                )
            )
        else:
            submit_report(
                reporter_kind=reporter_kind,
                source=Report.Source.API,
                reporter_account_id="reporter-secret-42",
                reporter_email="reporter@example.org",
                description="reporter's own words: secret",
                **content,
            )
        reviewer = make_user(f"reviewer-{n}-{next(counter)}", Role.REVIEWER)
        case = case_claim_next(user=reviewer)
        child = {}
        if policy.startswith("child-safety"):
            child = dict(CHILD_FIELDS)
            if action != "escalate":
                # Classified A1-B2 it would be a CSAM finding, which only escalation may be.
                del child["classification"]
        fields = {**child, **extra}
        return case_decide(
            case_id=case.pk, user=reviewer, action=action, policy=policy, notes=notes, **fields
        )

    return make


@pytest.fixture
def dsa_bank_acts(submit_report):
    """Known-material bank policy acting on a freshly reported case, with no reviewer."""

    def make(*, owner_id="owner-secret-77", platform_id=None):
        n = next(_ids)
        report = submit_report(
            category="spam",
            platform_id=f"post-{n}" if platform_id is None else platform_id,
            content_type="image",
            owner_id=owner_id,
        )
        bank = HashBank.objects.get_or_create(
            slug="ncmec",
            defaults={
                "name": "NCMEC known",
                "signal_types": ["pdq"],
                "policy": HashBank.Policy.ACT_AND_ESCALATE,
            },
        )[0]
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=report.case_id)
            case_apply_matches(case=case, banks=[bank])
        return case

    return make
