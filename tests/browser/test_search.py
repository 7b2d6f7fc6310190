"""Search from the keyboard: Ctrl-K (or Cmd-K) and / put the cursor in the navigation's search box
from any console page, Escape leaves it; a case id and Enter show the case first and focused, so
Enter again opens it; any result is a link to its case."""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent

pytestmark = pytest.mark.browser


@pytest.fixture
def cases(make_user, submit_report):
    make_user("reviewer1", Role.REVIEWER)
    first = submit_report(content_url="https://social.example/p/1", owner_id="acct-1").case
    second = submit_report(content_url="https://social.example/p/2", owner_id="acct-1").case
    return first, second


def test_keys_open_the_search_and_enter_opens_the_case(page, live_server, log_in, cases):
    first, second = cases
    log_in(page, "reviewer1")
    box = page.get_by_role("searchbox", name=re.compile("Search"))
    expect(box).not_to_be_focused()

    page.keyboard.press("Control+k")
    expect(box).to_be_focused()
    page.keyboard.press("Escape")
    expect(box).not_to_be_focused()
    page.keyboard.press("Meta+k")
    expect(box).to_be_focused()
    page.keyboard.press("Escape")

    # "/" is no other shortcut: it opens the search, and is not typed into it.
    page.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("")

    page.keyboard.type(str(second.pk))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/search/\?q={second.pk}$"))
    opener = page.get_by_test_id("search-first").get_by_role("link")
    expect(opener).to_have_text(f"Open case {second.pk}")
    expect(opener).to_be_focused()
    assert AuditEvent.objects.filter(verb="search.performed").count() == 1

    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/cases/{second.pk}/")
    # The legend on the case page lists the keys.
    expect(page.get_by_test_id("shortcuts")).to_contain_text("search")


def test_a_result_is_a_link_to_its_case(page, live_server, log_in, cases):
    first, second = cases
    log_in(page, "reviewer1")
    box = page.get_by_role("searchbox", name=re.compile("Search"))
    box.click()
    # Typed into the box, "/" is text: a link searched for without its scheme.
    page.keyboard.type("social.example/p/1")
    expect(box).to_have_value("social.example/p/1")
    page.keyboard.press("Enter")
    results = page.get_by_test_id("search-group-url")
    expect(results).to_contain_text("Content at https://social.example/p/1")
    expect(page.get_by_test_id("search-first")).to_have_count(0)
    results.get_by_role("link", name=f"Case {first.pk}").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{first.pk}/")

    # An account: its cases, and its account page.
    page.keyboard.press("Control+k")
    page.keyboard.type("acct-1")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("search-group-account_cases")).to_contain_text(f"Case {second.pk}")
    page.get_by_test_id("search-group-account").get_by_role("link", name="acct-1").click()
    expect(page).to_have_url(f"{live_server.url}/platform-accounts/acct-1/")
