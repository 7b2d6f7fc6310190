"""A video end to end in a real browser: reported through the public form (twice, from two
posts), hashed, matched against a vPDQ bank and clustered by the jobs; a reviewer judges it from
its stills (the matched segment shown), plays it through, escalates it; a supervisor approves;
the packet carries the video with an XSD-valid fileDetails saying the platform viewed it."""

import io
import re
import zipfile

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.banks.models import HashBank, Match
from moderation.banks.services import bank_import
from moderation.escalations.models import Escalation
from reports.models import Report
from reports.vpdq import frames_from_text, to_signal
from tests.browser.test_end_to_end import review_next
from tests.browser.test_escalation import run_worker
from tests.moderation.packet_helpers import packet_bytes
from tests.moderation.video_packet_helpers import schema_errors
from tests.testdata import VPDQ

pytestmark = pytest.mark.browser

VIDEO = VPDQ / "videos" / "chair-19-sd-bar.mp4"


def run_jobs():
    """The jobs the last requests queued: in-process already in the embedded mode; with Redis,
    a real worker's."""
    if not settings.JOBS_EAGER:
        run_worker()


def report_video(page, live_server, post: int) -> Report:
    page.goto(f"{live_server.url}/report/")
    page.get_by_role("radio", name=re.compile(r"^Child sexual exploitation")).check()
    page.get_by_label("Where is it?").fill(f"https://social.example/v/{post}")
    page.get_by_label("This involves someone under 18").check()
    page.get_by_label("Screenshots, images or videos").set_input_files(VIDEO)
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("we have your report")
    return Report.objects.get(reference=page.get_by_test_id("reference").inner_text())


def test_a_reported_video_is_matched_reviewed_escalated_and_packed(
    new_page, live_server, log_in, make_user
):
    bank = HashBank.objects.create(name="Known videos", slug="known-videos", signal_types=["vpdq"])
    frames = frames_from_text((VPDQ / "reference-0.2.5" / "chair-19-sd-bar.txt").read_text())
    bank_import(bank=bank, text=f"vpdq {to_signal(frames[::30])}\n")
    make_user("reviewer1", Role.REVIEWER)
    make_user("supervisor1", Role.SUPERVISOR)

    public = new_page()
    first = report_video(public, live_server, 1)
    second = report_video(public, live_server, 2)
    run_jobs()
    media = first.media.get()
    media.refresh_from_db()
    assert media.kind == "video" and media.hashed_at is not None
    assert Match.objects.filter(media=media, signal_type="vpdq", entry__bank=bank).exists()
    assert media.cluster_id is not None and second.media.get().cluster_id == media.cluster_id

    reviewer = new_page()
    log_in(reviewer, "reviewer1")
    review_next(reviewer, live_server, first.case)
    expect(reviewer.get_by_test_id("video-facts")).to_contain_text("480×720")
    expect(reviewer.locator("body")).to_contain_text("Near-duplicates: 1 other case")
    expect(reviewer.get_by_test_id("matched-segments")).to_be_visible()
    expect(reviewer.locator("body")).to_contain_text("Known videos")
    reviewer.get_by_role("button", name="Show frames").click()
    expect(reviewer.get_by_test_id("strip")).to_be_visible()

    # Played through (fast): the whole video seen, as fileViewedByEsp will say.
    reviewer.get_by_role("button", name="Play video").click()
    player = reviewer.get_by_test_id("player")
    expect(player).to_be_visible()
    player.evaluate("v => { v.playbackRate = 8; return v.play(); }")
    reviewer.wait_for_function("v => v.ended", arg=player.element_handle(), timeout=20_000)
    for _ in range(100):
        if AuditEvent.objects.filter(verb="media.watched", object_id=str(media.pk)).exists():
            break
        reviewer.wait_for_timeout(100)
    assert AuditEvent.objects.filter(verb="media.watched", object_id=str(media.pk)).exists()

    reviewer.locator("input[name=action][value=escalate]").check()
    reviewer.get_by_label("Sharer's apparent intent").select_option("malicious")
    reviewer.get_by_label("Industry classification").select_option("A1")
    reviewer.get_by_role("button", name=re.compile(r"^Record decision")).click()
    escalation = Escalation.objects.get(cases=first.case)
    expect(reviewer).to_have_url(f"{live_server.url}/escalations/{escalation.pk}/")
    reviewer.get_by_label("What happened").fill("A video shared in a public group.")
    reviewer.get_by_role("button", name="Save and send for approval").click()
    expect(reviewer.get_by_test_id("status")).to_have_text("Awaiting approval")

    supervisor = new_page()
    log_in(supervisor, "supervisor1")
    supervisor.goto(f"{live_server.url}/escalations/{escalation.pk}/")
    supervisor.get_by_test_id("approve").click()
    run_jobs()
    expect(supervisor.get_by_test_id("status")).to_have_text("Ready", timeout=30_000)
    expect(supervisor.locator("body")).to_contain_text("viewed at the platform")

    escalation.refresh_from_db()
    with zipfile.ZipFile(io.BytesIO(packet_bytes(escalation))) as packet:
        names = packet.namelist()
        assert schema_errors(packet.read("report.xml")) == []
        [details] = [n for n in names if n.startswith("fileDetails/")]
        xml = packet.read(details)
        assert any(n.startswith("vpdq/") for n in names)
        assert any(n.endswith(".mp4") for n in names)
    assert schema_errors(xml) == []
    text = xml.decode()
    assert "<fileViewedByEsp>true</fileViewedByEsp>" in text
    assert media.sha256 in text.lower() and "Video: MP4, H.264" in text
