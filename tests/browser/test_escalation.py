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

    queues = [get_queue("high"), get_queue()]
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
