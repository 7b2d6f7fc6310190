"""A reviewer looks at a video the way the console lets them: nothing of it reaches the browser
before they ask; the stills come blurred and greyscale (r, then u and c); the player opens muted
and paused, blurred and greyscale (v), steps frame by frame (. and ,), and what it plays is
counted as seconds of exposure. Each reveal is one logged view, however many requests the player
makes."""

import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from accounts.models import ExposureEvent, User
from accounts.roles import Role
from accounts.wellness import preferences_update
from moderation.audit.models import AuditEvent
from tests.moderation.review.video_helpers import video_case
from tests.videos import make_video

pytestmark = pytest.mark.browser
# How long real playback may take to get through a second of video (CI shares two cores).
PLAYBACK_MS = 45_000


@pytest.fixture
def video(make_user, submit_report):
    make_user("reviewer1", Role.REVIEWER)
    # Four seconds at ten frames a second, big enough to see.
    data = make_video("mp4", width=160, height=120, frames=40, fps=10)
    return video_case(submit_report, data=data)


def expect_filter(page, locator, value: str) -> None:
    """The element's filter as drawn, once its transition has run."""
    page.wait_for_function(
        "([el, value]) => getComputedStyle(el).filter === value",
        arg=[locator.element_handle(), value],
    )


def wait_until_played(page, player, seconds: float) -> None:
    """Real playback past `seconds`; if it never gets there, the player's state says why."""
    try:
        page.wait_for_function(
            f"v => v.currentTime > {seconds}", arg=player.element_handle(), timeout=PLAYBACK_MS
        )
    except PlaywrightTimeoutError:
        state = player.evaluate(
            """v => ({
                currentTime: v.currentTime, paused: v.paused, ended: v.ended,
                readyState: v.readyState, networkState: v.networkState,
                error: v.error && `${v.error.code} ${v.error.message}`,
                buffered: Array.from({length: v.buffered.length},
                                     (_, i) => [v.buffered.start(i), v.buffered.end(i)]),
                hidden: document.hidden,
            })"""
        )
        pytest.fail(f"playback never passed {seconds} s in {PLAYBACK_MS} ms: {state}")


def wait_for(check, timeout=10.0):
    """Poll the database for what the browser does in the background (a beacon)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_a_reviewer_judges_a_video_from_its_stills_then_plays_and_steps_it(
    page, live_server, log_in, video
):
    case, media = video
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    log_in(page, "reviewer1")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.get_by_test_id("video-facts")).to_contain_text("160×120")
    expect(page.get_by_role("button", name="Show frames")).to_be_visible()
    expect(page.locator("video")).to_have_count(0)
    media_path = f"/cases/{case.pk}/media/{media.pk}/"
    assert not [u for u in requested if media_path in u]

    # r: the stills, blurred and greyscale as the defaults say; one logged view.
    page.keyboard.press("r")
    still = page.locator(".strip .still-img").first
    expect(still).to_be_visible()
    page.wait_for_function(
        "el => getComputedStyle(el).backgroundImage.includes('/frames/?reveal=')",
        arg=still.element_handle(),
    )
    expect_filter(page, still, "blur(16px) grayscale(1)")
    page.keyboard.press("u")
    expect_filter(page, still, "grayscale(1)")
    page.keyboard.press("c")
    expect_filter(page, still, "none")
    assert [e.after for e in AuditEvent.objects.filter(verb="media.viewed").order_by("pk")] == [
        {"shown": "frames"}
    ]

    # v: the player, muted, paused, blurred and greyscale; nothing plays by itself.
    page.keyboard.press("v")
    player = page.get_by_test_id("player")
    expect(player).to_be_visible()
    page.wait_for_function("v => v.readyState >= 1", arg=player.element_handle())
    state = player.evaluate("v => [v.muted, v.paused, v.autoplay, v.currentTime]")
    assert state == [True, True, False, 0]
    expect_filter(page, player, "blur(16px) grayscale(1)")
    page.get_by_role("button", name="Unblur").last.click()
    expect_filter(page, player, "grayscale(1)")
    page.keyboard.press("c")
    expect_filter(page, player, "none")

    # . and , step one frame (a tenth of a second here) while paused.
    page.keyboard.press(".")
    page.wait_for_function("v => Math.abs(v.currentTime - 0.1) < 0.01", arg=player.element_handle())
    page.keyboard.press(".")
    page.wait_for_function("v => Math.abs(v.currentTime - 0.2) < 0.01", arg=player.element_handle())
    page.keyboard.press(",")
    page.wait_for_function("v => Math.abs(v.currentTime - 0.1) < 0.01", arg=player.element_handle())
    expect(page.get_by_test_id("video-time")).to_contain_text("0:00.10")
    assert player.evaluate("v => v.paused")

    # Play a second and pause: the seconds played reach the reviewer's exposure.
    player.evaluate("v => v.play()")
    # Real playback: on a loaded machine (the whole suite running) a second can take a while.
    wait_until_played(page, player, 1.2)
    player.evaluate("v => v.pause()")
    reviewer = User.objects.get(username="reviewer1")
    assert wait_for(
        lambda: ExposureEvent.objects.filter(user=reviewer, seconds_played__gt=0.8).exists()
    )
    played = ExposureEvent.objects.get(user=reviewer, seconds_played__isnull=False)
    assert played.seconds_played <= media.duration

    # Two reveals, two views: the player's requests for the file were not logged again.
    assert [
        e.after["shown"] for e in AuditEvent.objects.filter(verb="media.viewed").order_by("pk")
    ] == [
        "frames",
        "video",
    ]
    assert [u for u in requested if f"{media_path}?reveal=" in u]
    assert ExposureEvent.objects.filter(user=reviewer, video=True).count() == 2


def test_seconds_played_are_sent_as_the_page_goes(page, live_server, log_in, video):
    case, _ = video
    log_in(page, "reviewer1")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.get_by_role("button", name="Play video").click()
    player = page.get_by_test_id("player")
    expect(player).to_be_visible()
    player.evaluate("v => v.play()")
    wait_until_played(page, player, 0.6)
    # Leaving while it plays: the beacon on pagehide carries what was played.
    page.goto(f"{live_server.url}/review/")
    reviewer = User.objects.get(username="reviewer1")
    assert wait_for(
        lambda: ExposureEvent.objects.filter(user=reviewer, seconds_played__gt=0.4).exists()
    )


def test_the_player_opens_with_sound_for_a_reviewer_who_chose_it(page, live_server, log_in, video):
    case, _ = video
    log_in(page, "reviewer1")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.get_by_role("button", name="Play video").click()
    player = page.get_by_test_id("player")
    expect(player).to_be_visible()
    assert player.evaluate("v => v.muted") is True  # the default: muted
    preferences_update(
        user=User.objects.get(username="reviewer1"), blur_px=16, greyscale=True, play_muted=False
    )
    page.reload()
    page.get_by_role("button", name="Play video").click()
    expect(player).to_be_visible()
    assert player.evaluate("v => v.muted") is False
    expect(player).to_have_attribute("aria-label", "The video")
