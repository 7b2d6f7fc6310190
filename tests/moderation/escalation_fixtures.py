"""Escalation fixtures for tests: a reviewer escalates content; an escalation made ready."""

import pytest

from accounts.roles import Role
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Appeal, Decision
from moderation.escalations.models import Escalation
from moderation.escalations.services import (
    escalation_approve,
    escalation_request_approval,
    escalation_update_details,
)
from moderation.review.services import case_decide

DETAILS = {
    "incident_type": "Child Pornography (possession, manufacture, and distribution)",
    "incident_summary": "Image shared publicly in a group.",
    "annotations": ["sextortion"],
    "urgent": False,
    "urgent_reason": "",
}


@pytest.fixture
def escalate(make_user, submit_report):
    """`escalate(reviewer=None, owner="acct-1", **report_submit kwargs, e.g. images=[...])`: a
    reviewer escalates a child-safety report on that account; returns (escalation, reviewer)."""

    def run(reviewer=None, owner="acct-1", **report):
        reviewer = reviewer or make_user(f"rev-{owner}-{Decision.objects.count()}")
        submit_report(category="csam", involves_child=True, owner_id=owner, **report)
        case = case_claim_next(user=reviewer)
        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="malicious",
            classification="A1",
        )
        return Escalation.objects.get(cases=case), reviewer

    return run


def prepared(escalation, user, **overrides):
    escalation_update_details(escalation_id=escalation.pk, user=user, **{**DETAILS, **overrides})
    return escalation_request_approval(escalation_id=escalation.pk, user=user)


@pytest.fixture
def ready_escalation(escalate, make_user):
    """Approved, with the state the assembly job leaves (a packet hash), without assembling."""
    escalation, reviewer = escalate()
    prepared(escalation, reviewer)
    escalation_approve(escalation_id=escalation.pk, user=make_user("boss", Role.SUPERVISOR))
    # What the assembly job leaves behind (it is tested in its own module).
    Escalation.objects.filter(pk=escalation.pk).update(status="ready", packet_sha256="ab" * 32)
    return escalation


def overturn_on_appeal(decision: Decision, *, by) -> Appeal:
    """The owner's appeal against `decision`, decided by `by`: no violation after all."""
    outcome = Decision.objects.create(
        case=decision.case, reviewer=by, action="no_violation", policy=decision.policy
    )
    return Appeal.objects.create(
        case=decision.case,
        decision=decision,
        statement="satire",
        status="overturned",
        outcome=outcome,
        decided_at=outcome.created_at,
    )
