"""An escalation in a real browser: a reviewer escalates and writes the report, a supervisor
approves it, the packet is assembled (live progress while a worker builds it) and downloaded."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from tests.browser.test_end_to_end import csam_case, review_next  # noqa: F401

pytestmark = pytest.mark.browser


def run_worker():
    """With Redis, what the supervisor's approval queued: a real worker builds the packet."""
    from rq import SimpleWorker

    from lib.jobs import get_queue

    queues = [get_queue(name) for name in settings.RQ_QUEUE_NAMES]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True)


def test_a_reviewers_escalation_is_approved_assembled_and_downloaded(
    new_page,
    live_server,
    log_in,
    make_user,
    csam_case,  # noqa: F811
):
    make_user("reviewer1", Role.REVIEWER)
    make_user("supervisor1", Role.SUPERVISOR)
    if not settings.JOBS_EAGER:
        # The case's image is hashed by its job, as it is seconds after intake: a packet waits
        # for its evidence's hashes (MD5 and all), so the job runs before anyone approves.
        run_worker()

    reviewer_page = new_page()
    log_in(reviewer_page, "reviewer1")
    review_next(reviewer_page, live_server, csam_case)
    reviewer_page.locator("input[name=action][value=escalate]").check()
    reviewer_page.get_by_label("Sharer's apparent intent").select_option("malicious")
    reviewer_page.get_by_label("Industry classification").select_option("A1")
    reviewer_page.get_by_role("button", name=re.compile(r"^Record decision")).click()

    # The decision leads straight to the report to write.
    escalation = Escalation.objects.get(cases=csam_case)
    expect(reviewer_page).to_have_url(f"{live_server.url}/escalations/{escalation.pk}/")
    reviewer_page.get_by_label("What happened").fill("Shared in a public group this morning.")
    reviewer_page.get_by_label("Sextortion").check()
    reviewer_page.get_by_label("A child is in immediate danger").check()
    reviewer_page.get_by_label(re.compile(r"^Why")).fill("The caption names the child's school.")
    reviewer_page.get_by_role("button", name="Save and send for approval").click()
    expect(reviewer_page.get_by_test_id("status")).to_have_text("Awaiting approval")
    # Whoever escalated cannot approve: no button for them.
    expect(reviewer_page.get_by_test_id("approve")).to_have_count(0)

    supervisor_page = new_page()
    log_in(supervisor_page, "supervisor1")
    supervisor_page.get_by_role("link", name="Escalations").click()
    row = supervisor_page.locator("tr.urgent", has_text=f"#{escalation.pk}")
    expect(row).to_contain_text("urgent")
    row.get_by_role("link", name=f"#{escalation.pk}").click()
    expect(supervisor_page.get_by_test_id("urgent")).to_contain_text("school")
    supervisor_page.get_by_test_id("approve").click()

    if not settings.JOBS_EAGER:
        # The job waits in Redis: the page shows the live progress bar until a worker is done,
        # then reloads itself (htmx polling) to show the packet.
        expect(supervisor_page.get_by_test_id("progress")).to_be_visible()
        run_worker()
    expect(supervisor_page.get_by_test_id("status")).to_have_text("Ready", timeout=15_000)
    escalation.refresh_from_db()
    expect(supervisor_page.locator("body")).to_contain_text(escalation.packet_sha256)

    with supervisor_page.expect_download() as download:
        supervisor_page.get_by_role("link", name=re.compile(r"Download")).first.click()
    assert download.value.suggested_filename.endswith(".zip")
    assert AuditEvent.objects.filter(
        verb="escalation.packet_downloaded", object_id=str(escalation.pk)
    ).exists()


def test_the_list_says_who_holds_each_escalation_and_filters_what_waits(
    new_page, log_in, make_user, escalate
):
    from tests.moderation.escalation_fixtures import prepared

    boss = make_user("supervisor1", Role.SUPERVISOR)
    waiting, writer = escalate(owner="acct-w")
    prepared(waiting, writer)
    ready, other = escalate(owner="acct-r")
    prepared(ready, other)
    Escalation.objects.filter(pk=ready.pk).update(
        status="ready", approved_by=boss, packet_sha256="ab" * 32
    )

    page = new_page()
    log_in(page, "supervisor1")
    # The link the navigation's inbox gives for "awaiting approval".
    page.goto("/escalations/?status=awaiting_approval")
    rows = page.get_by_test_id("escalations").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"#{waiting.pk}")
    expect(rows.first.get_by_test_id("held-by")).to_have_text(writer.get_username())
    expect(rows.first.get_by_test_id("since")).to_contain_text(re.compile(r"since \d{4}-\d\d-\d\d"))

    # The same filters from the list's own menu.
    page.get_by_label("Show").select_option("Ready to submit")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"\?status=ready_to_submit$"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"#{ready.pk}")
    expect(rows.first.get_by_test_id("held-by")).to_have_text(other.get_username())


def test_the_page_puts_each_control_in_its_step_and_speaks_plainly(
    new_page, live_server, log_in, make_user, escalate, submit_report, png_upload
):
    from tests.moderation.custody_helpers import make_escalation
    from tests.moderation.escalation_fixtures import prepared

    make_user("supervisor1", Role.SUPERVISOR)
    report = submit_report(category="csam", involves_child=True, images=[png_upload()])
    ready = make_escalation(make_user, [report])

    page = new_page()
    log_in(page, "supervisor1")
    page.goto(f"/escalations/{ready.pk}/")
    step = page.get_by_test_id("next-step")
    expect(step).to_contain_text("not configured on this server; an administrator can enable it")
    steps = step.get_by_test_id("manual-steps").locator("> li")
    expect(steps).to_have_count(3)
    # Step 1 says "download the packet" and holds the download; step 3 the report id to record.
    expect(steps.nth(0)).to_contain_text("Download the packet")
    with page.expect_download() as download:
        steps.nth(0).get_by_role("link", name="Download packet").click()
    assert download.value.suggested_filename.endswith(".zip")
    expect(steps.nth(2)).to_contain_text("Record the report id")
    steps.nth(2).get_by_label("CyberTipline report id").fill("987654")
    steps.nth(2).get_by_role("button", name="Mark submitted").click()

    expect(page.get_by_test_id("status")).to_have_text("Submitted")
    expect(step).to_contain_text("as report 987654")
    expect(step.get_by_role("button", name="Mark acknowledged")).to_be_visible()
    # The history in words, the code on hover.
    entry = page.get_by_test_id("history").get_by_text("Marked submitted as report 987654")
    expect(entry).to_have_text("Marked submitted as report 987654 by supervisor1")
    expect(entry).to_have_attribute("title", "escalation.submitted")
    expect(page.get_by_test_id("history")).not_to_contain_text("escalation.")
    assert "VIGIL_" not in page.content() and "CYBERTIP_" not in page.content()

    # The reviewer who escalated another one reads where it stands, not what to do.
    waiting, reviewer = escalate(owner="acct-x")
    prepared(waiting, reviewer)
    reviewer_page = new_page()
    log_in(reviewer_page, reviewer.get_username())
    reviewer_page.goto(f"/escalations/{waiting.pk}/")
    their_step = reviewer_page.get_by_test_id("next-step")
    expect(their_step).to_contain_text("Waiting for approval by a senior reviewer or supervisor")
    expect(their_step.get_by_role("button")).to_have_count(0)
    expect(reviewer_page.get_by_text("Approve and assemble the packet")).to_have_count(0)
    # No custody yet: the card says what it is and when it starts.
    expect(reviewer_page.get_by_test_id("custody-empty")).to_contain_text(
        "starts when the packet is assembled"
    )
    assert "VIGIL_" not in reviewer_page.content()
