"""Leaving the self-report page at once: the button, or Shift pressed three times."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def exit_page(live_server, settings):
    # A page of this server stands in for the ordinary website (tests never leave the machine).
    settings.QUICK_EXIT_URL = f"{live_server.url}/report/status/"
    return f"{live_server.url}/report/status/"


def test_the_button_replaces_the_page(page, live_server, exit_page):
    page.goto(f"{live_server.url}/report/")
    page.goto(f"{live_server.url}/report/self/")
    page.get_by_test_id("quick-exit").click()
    expect(page).to_have_url(exit_page)
    # Back does not return to the self-report page: it was replaced in the history.
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/report/")


def test_shift_three_times_leaves(page, live_server, exit_page):
    page.goto(f"{live_server.url}/report/self/")
    page.get_by_label("Where is it?").fill("https://social.example/p/1")
    for _ in range(3):
        page.keyboard.press("Shift")
    expect(page).to_have_url(exit_page)
