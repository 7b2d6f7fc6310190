"""The inbox in the navigation: a senior reviewer finds the escalation waiting for their approval."""

import pytest
from django.db import transaction
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.escalations.models import Escalation
from moderation.escalations.services import escalation_open

pytestmark = pytest.mark.browser


def test_the_inbox_leads_to_the_escalation_awaiting_approval(
    page, live_server, log_in, make_user, submit_report
):
    reviewer = make_user("rev", Role.REVIEWER)
    make_user("sen", Role.SENIOR_REVIEWER)
    case = submit_report(category="spam").case
    with transaction.atomic():
        escalation = escalation_open(case=case, reason="test", user=reviewer)
    Escalation.objects.filter(pk=escalation.pk).update(
        status=Escalation.Status.AWAITING_APPROVAL, approval_requested_by=reviewer
    )

    log_in(page, "sen")
    inbox = page.locator("[data-inbox]")
    expect(inbox.locator("summary")).to_contain_text("Inbox")
    expect(inbox.locator("summary .badge")).to_have_text("1")
    # Closed until asked for; opened, each kind of work is a link to its list.
    item = inbox.locator("[data-inbox-item=approval]")
    expect(item).to_be_hidden()
    inbox.locator("summary").click()
    expect(item).to_contain_text("Escalations awaiting approval")
    item.click()
    expect(page).to_have_url(f"{live_server.url}/escalations/?status=awaiting_approval")
    expect(page.locator(f"a[href='/escalations/{escalation.pk}/']").first).to_be_visible()
