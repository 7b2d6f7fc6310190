"""In a real browser, checked by axe-core: the case page's Links section (a long address wraps
inside its card, is never something to click, and a message's link brings up its page of the
thread) and the account page's Conversations section, for an account known only as a
participant of someone else's conversation."""

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.decisions.models import Decision
from reports.link_intake import url_key
from reports.models import Link, Message
from tests.browser.test_accessibility import report, violations
from tests.conversations import report_conversation

pytestmark = pytest.mark.browser

LONG = "https://img.example.invalid/" + "a1b2c3d4e5/" * 40 + "p.jpg?t=" + "x" * 200


def test_links_and_conversations_read_well(page, live_server, log_in, make_user):
    reviewer = make_user("reviewer1", Role.REVIEWER)
    result = report_conversation(
        count=160, reported=(150,), texts={150: "https://msg.example.invalid/me.jpg"}
    )
    case = result.report.case
    message = Message.objects.get(platform_id="conv-1-m150")
    Link.objects.create(
        content_item=case.content_item,
        report=result.report,
        url=LONG,
        url_key=url_key(LONG),
        status="refused",
        attempts=1,
        error="not an image or a video (text/html)",
    )
    Decision.objects.create(
        case=case,
        reviewer=make_user("earlier"),
        action="suspend",
        policy="child-safety/grooming",
        intent="malicious",
        target="account",
        target_ref="minor-1",
    )
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    log_in(page, reviewer.username)

    page.goto(f"/cases/{case.pk}/")
    links = page.get_by_test_id("links")
    expect(links.get_by_role("heading", name="Links (2)")).to_be_visible()
    long_url = links.locator("code[data-testid='link-url']", has_text="a1b2c3d4e5")
    expect(long_url).to_be_visible()
    # It wraps inside its card instead of widening the page.
    card, code = links.bounding_box(), long_url.bounding_box()
    assert code["x"] + code["width"] <= card["x"] + card["width"] + 1
    assert code["height"] > 3 * 20
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(links.locator("a[href^='http']")).to_have_count(0)
    found = {}
    if problems := violations(page):
        found["case page with links"] = problems

    # The message's link brings up its page of the thread, the message in view.
    links.get_by_role("link", name="message conv-1-m150").click()
    expect(page.locator(f"#message-{message.pk}")).to_be_visible()
    expect(page.get_by_test_id("thread")).to_contain_text("Messages 101–160 of 160")

    page.goto("/platform-accounts/minor-1/")
    section = page.get_by_test_id("account-conversations")
    expect(section.get_by_role("heading", name="Conversations (1)")).to_be_visible()
    expect(section).to_contain_text("Minor, 13 (stated)")
    expect(page.get_by_test_id("account-decisions")).to_contain_text("about the account minor-1")
    if problems := violations(page):
        found["account page with conversations"] = problems
    assert not found, report(found)
    # Nothing beyond the console was asked for: no address a link names was ever opened.
    assert all(url.startswith(live_server.url) for url in asked), asked
