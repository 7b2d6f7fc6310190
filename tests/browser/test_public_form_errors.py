"""A public form sent back with errors, in the browser: the summary takes the focus, and its
links put the cursor in the field to fix."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_summary_takes_the_focus_and_leads_to_each_field(page, live_server):
    page.goto(f"{live_server.url}/report/")
    page.get_by_label("Where is it?").fill("not a link")
    page.get_by_role("button", name="Send report").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("There is a problem")
    summary.get_by_role("link").filter(has_text=re.compile("link|URL|address", re.I)).first.click()
    expect(page.get_by_label("Where is it?")).to_be_focused()
    summary.get_by_role("link").first.click()  # the category comes first on the page
    expect(page.locator("input[name=category]").first).to_be_focused()
