"""The account page in a real browser: a reviewer opens one account's page, finds its sections
and its case, and no file of it is fetched, revealed or logged as seen."""

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide

pytestmark = pytest.mark.browser

OWNER = "acct:77.x"
# What opening a file logs (moderation/review/reveals.py).
SEEN = ["media.viewed", "media.watched"]


def test_a_reviewer_reads_an_accounts_page(
    page, live_server, log_in, make_user, submit_report, png_upload
):
    reviewer = make_user("reviewer1", Role.REVIEWER)
    report = submit_report(owner_id=OWNER, owner_handle="@seventy", images=[png_upload()])
    held = case_claim_next(user=make_user("earlier"))
    case_decide(case_id=held.pk, user=held.assignee, action="remove", policy="harassment")
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))

    log_in(page, reviewer.username)
    page.goto(f"/platform-accounts/{OWNER}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(OWNER)
    expect(page.get_by_test_id("account-handle")).to_have_text("@seventy")
    for name in (
        "Cases (1)",
        "Decisions (1)",
        "Enforcement actions (1)",
        "Bank matches (0)",
        "Escalations (0)",
        "Appeals (0)",
    ):
        expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_test_id("account-decisions")).to_contain_text("Remove content")
    # The file is counted, never drawn: nothing under /media/ was asked for, nothing logged.
    expect(page.get_by_test_id("media-withheld")).to_have_text("1 file · on the case, blurred")
    expect(page.locator("img")).to_have_count(0)
    assert not [url for url in fetched if "/media/" in url]
    assert not AuditEvent.objects.filter(verb__in=SEEN).exists()

    # The case is a click away, its file still behind its reveal button.
    page.get_by_test_id("account-cases").get_by_role("link", name=f"Case {report.case_id}").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{report.case_id}/")
    expect(page.get_by_role("button", name="Reveal image")).to_be_visible()
    assert not [url for url in fetched if "/media/" in url]
    assert not AuditEvent.objects.filter(verb__in=SEEN).exists()
