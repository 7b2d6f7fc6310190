"""An adult's account case escalated with its evidence, for the CyberTipline tests: a post of
the adult's (with the e-mail address and IP captures the platform holds for it) and two
conversations with two minors open the account case; a reviewer escalates it (escalation_open on
the account case, then escalation_gather with the latest case of each evidence item, as a
decision on an account case does) and a senior reviewer approves it."""

from datetime import UTC, datetime

import pytest
from django.db import transaction

from moderation.cases.accounts import evidence_cases
from moderation.cases.models import Case
from moderation.escalations.models import Escalation
from moderation.escalations.packet import escalation_assemble
from moderation.escalations.services import escalation_gather, escalation_open
from reports.content import IpCaptureIn
from reports.models import ContentItem, Report
from tests.conversations import report_conversation
from tests.moderation.escalations.conversation_fixtures import approve_escalation

ADULT = "adult-1"
EMAIL = "smooth@mail.example"
LOGIN = IpCaptureIn(
    ip="203.0.113.77", event="Login", captured_at=datetime(2026, 10, 30, 18, 0, tzinfo=UTC)
)
UPLOAD = IpCaptureIn(
    ip="2001:db8::77", event="Upload", captured_at=datetime(2026, 10, 30, 18, 5, tzinfo=UTC)
)
POST_URL = "https://social.example/p/post-77"


def account_case(account_id: str = ADULT) -> Case:
    return Case.objects.get(
        content_item__type=ContentItem.Type.ACCOUNT, content_item__platform_id=account_id
    )


def latest_evidence(account_id: str = ADULT) -> list[Case]:
    """The latest case of each evidence item: what a decision on the account case gathers."""
    latest: dict[int, Case] = {}
    for case in evidence_cases(account_id):
        latest.setdefault(case.content_item_id, case)
    return list(latest.values())


def escalate_account(reviewer, make_user) -> Escalation:
    """The reviewer escalates the account case with its evidence; a senior approves it."""
    with transaction.atomic():
        escalation = escalation_open(
            case=account_case(), reason="Account case escalated to authority", user=reviewer
        )
        escalation_gather(
            escalation=escalation,
            cases=latest_evidence(),
            reason="The account case's evidence",
            user=reviewer,
        )
    escalation.refresh_from_db()
    return approve_escalation(
        escalation, reviewer, make_user, incident_type=escalation.incident_type
    )


def assemble(escalation: Escalation) -> Escalation:
    result = escalation_assemble(escalation_id=escalation.pk)
    assert result is not None and result.status == "ready", escalation.failure_details
    escalation.refresh_from_db()
    return escalation


@pytest.fixture
def reported_adult(submit_report, png_upload, run_jobs):
    """A post of the adult's (with the e-mail address and IP captures the platform holds for
    it), then two conversations with two minors: the account case opens."""
    with run_jobs():
        submit_report(
            category="grooming",
            involves_child=True,
            source=Report.Source.API,
            platform_id="post-77",
            content_url=POST_URL,
            content_type="post",
            owner_id=ADULT,
            owner_handle="@smooth",
            owner_email=EMAIL,
            ip_captures=[LOGIN, UPLOAD],
            images=[png_upload(name="post.png", colour=(10, 120, 200))],
        )
        report_conversation(conversation_id="c1", minor="kid-1")
        report_conversation(conversation_id="c2", minor="kid-2")
    return account_case()
