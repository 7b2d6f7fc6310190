"""The team page in a real browser (issue 17): one compact row of key figures per reviewer at a
desktop's and a laptop's width, the rest (exposure, queues, certifications, the pause) opening on
demand over the rows below, and a pause made from there."""

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide

pytestmark = pytest.mark.browser


def test_a_supervisor_reads_the_team_at_a_glance_and_opens_one_reviewer(
    page, log_in, make_user, submit_report
):
    make_user("supervisor1", Role.SUPERVISOR)
    reviewers = [make_user(f"reviewer{i}", Role.REVIEWER) for i in range(6)]
    for user in reviewers[:3]:
        submit_report(category="spam")
        case = case_claim_next(user=user)
        case_decide(case_id=case.pk, user=user, action="remove", policy="spam")

    log_in(page, "supervisor1")
    page.get_by_role("link", name="Team", exact=True).click()
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    rows = page.locator("[data-testid=team] > tbody > tr")
    expect(rows).to_have_count(7)  # six reviewers and the supervisor
    row = page.locator("[data-testid=team] tr[data-reviewer=reviewer0]")
    expect(row.locator("td.decisions")).to_have_text("1")

    for width in (1440, 1280, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        # Compact: every row a line or two, not a column of forms.
        heights = rows.evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
        assert max(heights) < 70, (width, heights)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (width, overflow)
        # No control is shown until asked for.
        pause = "Pause sensitive queues"
        expect(page.get_by_role("button", name=pause, include_hidden=True)).to_have_count(7)
        expect(page.get_by_role("button", name=pause)).to_have_count(0)

    # Details on demand: opened over the rows below, inside the window, the row unchanged.
    height = row.bounding_box()["height"]
    row.get_by_text("Details").click()
    panel = row.locator(".panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Queues worked")
    expect(panel.get_by_test_id("reviewer-timeline")).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1024, box
    assert abs(row.bounding_box()["height"] - height) < 1
    # It leaves the other rows' Details in reach.
    other = page.locator("[data-testid=team] tr[data-reviewer=reviewer1]")
    other.get_by_text("Details").click()
    expect(other.locator(".panel")).to_be_visible()
    other.get_by_text("Details").click()
    expect(other.locator(".panel")).to_be_hidden()

    panel.get_by_label("Pause for").select_option("4")
    panel.get_by_label("Reason (shown to them)").fill("a hard morning")
    panel.get_by_role("button", name="Pause sensitive queues").click()
    expect(page.get_by_role("status").first).to_contain_text("reviewer0 is paused")
    expect(row.get_by_test_id("paused")).to_contain_text("Paused until")
    row.get_by_text("Details").click()
    expect(row.locator(".panel")).to_contain_text("a hard morning")
    expect(row.get_by_role("button", name="Lift pause")).to_be_visible()
