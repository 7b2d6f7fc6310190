"""A reviewer decides an account case in a real browser: two reported conversations of one
adult with two children opened it; its page lists the evidence and the minors, a conversation
opens from it, and escalating the account from its decision panel suspends it, removes what it
sent and gathers both conversations into the report to the authority. No serious
accessibility violation (axe-core)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from accounts.roles import Role
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from tests.browser.test_accessibility import report, violations
from tests.conversations import report_conversation

pytestmark = pytest.mark.browser


@pytest.fixture
def account_case(make_user, run_jobs):
    make_user("reviewer1", Role.REVIEWER)
    with run_jobs():
        report_conversation(conversation_id="c1", minor="kid-1")
        report_conversation(conversation_id="c2", minor="kid-2", minor_age=12)
    case = Case.objects.get(content_item__type="account")
    # Held by the reviewer (which case "next" gives depends on priorities, not this test).
    Case.objects.filter(pk=case.pk).update(
        assignee=User.objects.get(username="reviewer1"),
        lease_expires_at=timezone.now() + timedelta(minutes=15),
    )
    return case


def test_a_reviewer_escalates_an_account_with_all_its_evidence(
    page, live_server, log_in, account_case
):
    log_in(page, "reviewer1")
    page.goto(f"/cases/{account_case.pk}/")
    page.wait_for_load_state("load")
    evidence = page.get_by_test_id("account-evidence")
    expect(evidence).to_contain_text("in reported conversations with 2 minors")
    expect(evidence.locator("tbody tr")).to_have_count(2)
    expect(evidence).to_contain_text("12 (stated)")
    assert not (found := violations(page)), report({"account case": found})

    # A conversation of the evidence opens on its own page, and back.
    conversation = Case.objects.get(content_item__platform_id="c1")
    evidence.get_by_role("link", name=f"Case {conversation.pk}").click()
    expect(page.get_by_test_id("thread")).to_contain_text("Reported account")
    page.go_back()

    page.locator("input[name=action][value=escalate]").check()
    page.keyboard.press("i")
    page.keyboard.press("ArrowDown")  # "—" to "Malicious"
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("status").first).to_have_text(
        f"Decision recorded on case {account_case.pk}."
    )

    assert Decision.objects.get(case=account_case).action == "escalate"
    actions = set(EnforcementAction.objects.filter(case=account_case).values_list("kind", "target"))
    assert actions == {
        ("suspend_account", "adult-1"),
        ("remove_content", "c1-m2"),
        ("remove_content", "c2-m2"),
    }
    escalation = Escalation.objects.get(cases=account_case)
    assert set(escalation.cases.values_list("content_item__platform_id", flat=True)) == {
        "adult-1",
        "c1",
        "c2",
    }
