"""Media controls in a real browser: what was revealed stays revealed (and is not logged again)
when the form refuses a decision; the decision panel stays in view on a long case; auto-advance
opens the next case after a decision."""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from accounts.wellness import preferences_update
from moderation.audit.models import AuditEvent
from reports.media import inspect_image
from tests.conftest import png_bytes

pytestmark = pytest.mark.browser


@pytest.fixture
def csam_case(make_user, submit_report):
    make_user("reviewer1", Role.REVIEWER)
    images = [inspect_image(png_bytes(size=(600, 420 + i)), filename=f"p{i}.png") for i in range(6)]
    return submit_report(
        category="csam",
        involves_child=True,
        content_url="https://social.example/p/csam",
        images=images,
    ).case


def views(case):
    return AuditEvent.objects.filter(verb="media.viewed", case=case).count()


def test_revealed_images_stay_revealed_across_a_refused_decision(
    page, live_server, log_in, csam_case
):
    log_in(page, "reviewer1")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{csam_case.pk}/")
    # The shortcuts are the deferred script's: keys pressed before it ran are lost.
    page.wait_for_load_state("load")
    page.keyboard.press("r")
    page.keyboard.press("r")
    images = page.locator(".media-frame img.revealed")
    expect(images).to_have_count(2)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.media-frame img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert views(csam_case) == 2

    # Remove without the child-safety fields: refused, the page drawn again with its errors.
    page.locator("input[name=action][value=remove]").check()
    page.get_by_role("button", name=re.compile(r"^Record decision")).click()
    expect(page.locator(".errors").first).to_be_visible()
    expect(images).to_have_count(2)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.media-frame img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    # Still blurred and greyscale as revealed, and u still works on them.
    assert images.first.evaluate("img => img.style.filter") == "blur(16px) grayscale(1)"
    page.keyboard.press("u")
    assert images.last.evaluate("img => img.style.filter") == "grayscale(1)"
    assert views(csam_case) == 2  # not logged again

    # Refused twice: still kept.
    page.get_by_role("button", name=re.compile(r"^Record decision")).click()
    expect(page.locator(".errors").first).to_be_visible()
    expect(images).to_have_count(2)
    assert views(csam_case) == 2


def test_the_decision_panel_stays_in_view_on_a_long_case(page, live_server, log_in, csam_case):
    page.set_viewport_size({"width": 1280, "height": 700})
    log_in(page, "reviewer1")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{csam_case.pk}/")
    page.wait_for_load_state("load")
    for _ in range(6):
        page.keyboard.press("r")
    expect(page.locator(".media-frame img.revealed")).to_have_count(6)
    # Half way down the reviewer's images: the panel is at the top of the window.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
    page.wait_for_function("() => window.scrollY > 800")
    panel = page.get_by_test_id("decide-panel")
    box = panel.bounding_box()
    assert 0 <= box["y"] < 700, box
    expect(page.get_by_role("button", name=re.compile(r"^Record decision"))).to_be_in_viewport()


def test_auto_advance_opens_the_next_case(page, live_server, log_in, make_user, submit_report):
    reviewer = make_user("reviewer1", Role.REVIEWER)
    preferences_update(user=reviewer, blur_px=16, greyscale=True, auto_advance=True)
    first = submit_report(category="spam", content_url="https://social.example/p/1").case
    second = submit_report(category="spam", content_url="https://social.example/p/2").case
    log_in(page, "reviewer1")
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(r"/cases/\d+/$"))
    opened = first if page.url.endswith(f"/{first.pk}/") else second
    other = second if opened == first else first
    page.locator("input[name=action][value=remove]").check()
    page.get_by_label(re.compile("Policy")).first.select_option(index=1)
    page.get_by_role("button", name=re.compile(r"^Record decision")).click()
    expect(page).to_have_url(f"{live_server.url}/cases/{other.pk}/")
    expect(page.locator(".messages")).to_contain_text(f"Decision recorded on case {opened.pk}")
