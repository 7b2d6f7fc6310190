"""A reviewer works a conversation case in a real browser: the thread with its participants'
roles, paged by keyboard and links (htmx swaps only the thread; Enter on a link pages and never
records the decision chosen), a jump to the first reported message, an attachment revealed
(logged once), and a decision to suspend one participant's account. The page, with its decision
panel, has no serious accessibility violation (axe-core)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.decisions.models import Decision
from moderation.enforcement.models import EnforcementAction
from reports.media import inspect_image
from tests.browser.test_accessibility import report, violations
from tests.conftest import png_bytes
from tests.moderation.review.conversation_helpers import conversation_case

pytestmark = pytest.mark.browser


@pytest.fixture
def conversation(make_user):
    make_user("reviewer1", Role.REVIEWER)
    photo = inspect_image(png_bytes(size=(64, 48)), filename="photo.png")
    # 250 messages, three pages; the first reported one, and a file, on the third.
    return conversation_case(size=250, reported=(210, 240), attachments={215: [photo]}).case


def test_a_reviewer_reads_pages_reveals_and_suspends_a_participant(
    page, live_server, log_in, conversation
):
    log_in(page, "reviewer1")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{conversation.pk}/")
    page.wait_for_load_state("load")  # the shortcuts are the deferred script's

    thread = page.get_by_test_id("thread")
    expect(thread.get_by_role("heading", level=2)).to_have_text(
        "Conversation: 250 messages, 2 reported"
    )
    expect(thread.locator("[data-participant='acct-minor']")).to_contain_text("Minor, 13 (stated)")
    expect(thread.locator("[data-participant='acct-adult']")).to_contain_text("Reported account")
    expect(thread.locator("li.message").first).to_contain_text("message number 0")
    assert not (found := violations(page)), report({"conversation case": found})

    # The action first: paging afterwards must not record it.
    page.keyboard.press("6")
    expect(page.locator("input[name=action][value=suspend]")).to_be_checked()

    # "]": the next page, swapped in by htmx (the page itself stays), the heading focused.
    page.keyboard.press("]")
    messages_title = page.locator("#thread-messages-title")
    expect(messages_title).to_have_text(re.compile(r"^Messages 101–200 of 250"))
    expect(page.locator("#thread-title")).to_be_focused()
    expect(page).to_have_url(f"{live_server.url}/cases/{conversation.pk}/")

    # Enter on a page link follows it; it does not send the decision form.
    page.get_by_role("link", name="Earlier").first.focus()
    page.keyboard.press("Enter")
    expect(messages_title).to_have_text(re.compile(r"^Messages 1–100 of 250"))
    # Focused once htmx has settled the new page: its links are htmx's again from then on.
    expect(page.locator("#thread-title")).to_be_focused()
    assert not Decision.objects.exists()

    # "j": the page of the first reported message, with that message focused.
    page.keyboard.press("j")
    first = page.locator("li[data-message='m-210']")
    expect(first).to_be_focused()
    expect(first).to_contain_text("Reported message")
    expect(messages_title).to_have_text(re.compile(r"^Messages 201–250 of 250"))
    # Swapped in, not a page loaded: the action chosen before paging is still chosen.
    expect(page).to_have_url(f"{live_server.url}/cases/{conversation.pk}/")
    expect(page.locator("input[name=action][value=suspend]")).to_be_checked()

    # "r": the attachment (on m-215), fetched blurred and logged once.
    assert not AuditEvent.objects.filter(verb="media.viewed").exists()
    page.keyboard.press("r")
    image = page.locator("li[data-message='m-215'] .media-frame img.revealed")
    expect(image).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => img.style.filter") == "blur(16px) grayscale(1)"
    assert AuditEvent.objects.filter(verb="media.viewed", case=conversation).count() == 1

    # "a": about a participant's account, chosen; intent by "i"; Enter records.
    page.keyboard.press("a")
    expect(page.locator("input[name=target][value=account]")).to_be_checked()
    page.get_by_label("Participant’s account", exact=True).select_option("acct-adult")
    page.keyboard.press("Escape")
    page.keyboard.press("i")
    page.keyboard.press("ArrowDown")  # "—" to "Malicious"
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_have_text(
        f"Decision recorded on case {conversation.pk}."
    )

    decision = Decision.objects.get(case=conversation)
    assert (decision.action, decision.target, decision.target_ref) == (
        "suspend",
        "account",
        "acct-adult",
    )
    assert list(
        EnforcementAction.objects.filter(case=conversation).values_list("kind", "target")
    ) == [("suspend_account", "acct-adult")]
