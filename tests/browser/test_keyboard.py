"""A reviewer works a queue by keyboard alone: claim, reveal, decide, next. No mouse anywhere:
every step is a key the page itself shows."""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from reports.media import inspect_image
from tests.conftest import png_bytes

pytestmark = pytest.mark.browser


@pytest.fixture
def queue(make_user, submit_report):
    make_user("reviewer1", Role.REVIEWER)
    spam = submit_report(category="spam", content_url="https://social.example/p/spam").case
    csam = submit_report(
        category="csam",
        involves_child=True,
        content_url="https://social.example/p/csam",
        images=[inspect_image(png_bytes(size=(64, 48)), filename="photo.png")],
    ).case
    return csam, spam


def filter_of(page):
    return page.locator(".media-frame img.revealed").evaluate("img => img.style.filter")


def test_a_reviewer_works_the_queue_by_keyboard_alone(page, live_server, log_in, queue):
    csam, spam = queue
    log_in(page, "reviewer1")

    # Claim: "n" on the dashboard takes the most urgent case.
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{csam.pk}/")
    legend = page.get_by_test_id("shortcuts")
    for shown in ("reveal the next image", "record the decision", "skip", "unblur"):
        expect(legend).to_contain_text(shown)
    expect(page.locator(".media-frame img")).to_have_count(0)

    # Reveal: "r" fetches the image (logged), blurred and greyscale as the defaults say.
    page.keyboard.press("r")
    image = page.locator(".media-frame img.revealed")
    expect(image).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert AuditEvent.objects.filter(verb="media.viewed", case=csam).count() == 1
    assert filter_of(page) == "blur(16px) grayscale(1)"
    page.keyboard.press("u")
    assert filter_of(page) == "grayscale(1)"
    expect(page.locator(".media-item .unblur").first).to_contain_text("Blur again")
    page.keyboard.press("c")
    assert filter_of(page) == "none"
    # Both keys work both ways: seen enough, blur it again (at the preferred strength), grey it.
    page.keyboard.press("u")
    assert filter_of(page) == "blur(16px)"
    expect(page.locator(".media-item .unblur").first).to_contain_text("Unblur")
    page.keyboard.press("c")
    assert filter_of(page) == "blur(16px) grayscale(1)"
    page.keyboard.press("u")
    page.keyboard.press("c")
    assert filter_of(page) == "none"

    # Decide: a digit picks the action, letters reach the two findings, Escape hands the keys
    # back to the page, Enter records. Classified CSAM can only be escalated: "7".
    page.keyboard.press("7")
    expect(page.locator("input[name=action][value=escalate]")).to_be_checked()
    page.keyboard.press("i")
    expect(page.get_by_label("Sharer's apparent intent")).to_be_focused()
    page.keyboard.press("ArrowDown")  # "—" to "Malicious"
    page.keyboard.press("Escape")
    page.keyboard.press("l")
    expect(page.get_by_label("Industry classification")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # "—", "A1", "A2"
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    # The report to the authority is best written by who just looked: its page comes next.
    expect(page).to_have_url(re.compile(rf"{live_server.url}/escalations/\d+/$"))
    expect(page.get_by_role("status").first).to_have_text(f"Decision recorded on case {csam.pk}.")
    decision = Decision.objects.get(case=csam)
    assert (decision.action, decision.intent, decision.classification) == (
        "escalate",
        "malicious",
        "A2",
    )

    # Back to the queue; "n" again, and the following case is held by the same reviewer.
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{spam.pk}/")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(f"Decision recorded on case {spam.pk}.")
    assert Decision.objects.get(case=spam).action == "no_violation"
    assert not Case.objects.filter(status=Case.Status.OPEN).exists()
    assert re.search(r"/review/$", page.url)


def test_the_open_case_page_says_when_something_new_arrives(
    page, live_server, log_in, queue, submit_report
):
    """The page's htmx lease poll carries what the reviewer saw; a report that joins meanwhile
    is announced before any decision is tried."""
    csam, _ = queue
    page.clock.install()
    log_in(page, "reviewer1")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{csam.pk}/")
    expect(page.get_by_test_id("case-changed")).to_have_count(0)
    submit_report(category="csam", content_url="https://social.example/p/csam")
    page.mouse.move(10, 10)  # the poll runs only while someone is there
    page.clock.run_for(61_000)
    expect(page.get_by_test_id("case-changed")).to_contain_text("Something new arrived")
    expect(page.locator("#lease")).to_contain_text("Yours until")
