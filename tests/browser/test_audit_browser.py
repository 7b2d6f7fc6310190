"""The audit browser in a real browser: a supervisor filters to one reviewer, opens a case's
timeline, asks who saw its file, downloads the filtered events as CSV, then downloads the
transparency report (issue 7's journey)."""

import csv
import io

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide, media_record_view

pytestmark = pytest.mark.browser


def test_a_supervisor_follows_a_reviewer_to_a_case_and_who_saw_its_file(
    page, live_server, log_in, make_user, submit_report, png_upload
):
    rita = make_user("rita", Role.REVIEWER)
    make_user("rob", Role.REVIEWER)
    make_user("supervisor1", Role.SUPERVISOR)
    report = submit_report(images=[png_upload()])
    submit_report()
    case = case_claim_next(user=rita)
    media = report.media.get()
    media_record_view(media=media, case=case, user=rita, ip="10.1.2.3")
    case_decide(case_id=case.pk, user=rita, action="warn", policy="harassment")

    log_in(page, "supervisor1")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Actor").fill("rita")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("[data-testid=audit-events] > tbody > tr")
    expect(rows).to_have_count(3)  # claimed, viewed, decided
    expect(page.locator("[data-testid=audit-events] td.actor")).to_have_text(["rita"] * 3)

    page.locator("td.case a").first.click()
    expect(page).to_have_url(f"{live_server.url}/audit/case/{case.pk}/")
    expect(page.get_by_role("heading", name=f"Case {case.pk}: timeline")).to_be_visible()
    expect(page.locator("td.verb")).to_contain_text(["case.decided", "media.viewed"])

    page.get_by_role("link", name=f"Open case {case.pk}").click()
    page.get_by_test_id("who-saw").click()
    expect(page.locator("td.verb")).to_have_text(["media.viewed"])
    expect(page.locator("td.ip")).to_have_text(["10.1.2.3"])

    with page.expect_download() as download:
        page.get_by_test_id("audit-export").click()
    body = download.value.path().read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(body)))
    assert [(r["actor_label"], r["verb"], r["object_id"]) for r in exported] == [
        ("rita", "media.viewed", str(media.pk))
    ]

    # Last, the numbers for the period: the transparency report, downloaded and audited.
    page.get_by_role("link", name="Transparency").click()
    page.get_by_role("button", name="Show report").click()
    with page.expect_download() as report_download:
        page.get_by_test_id("transparency-download-csv").click()
    rows = list(csv.DictReader(io.StringIO(report_download.value.path().read_text("utf-8"))))
    figures = {(r["section"], r["key"]): r["value"] for r in rows}
    assert rows and all(set(r) == {"section", "key", "value"} for r in rows)
    # The two user reports made above, both from the public form.
    assert figures[("signals_received.user_reports", "total")] == "2"
    assert figures[("signals_received.user_reports.by_source", "form")] == "2"
    assert AuditEvent.objects.filter(
        verb__startswith="transparency.", actor__username="supervisor1"
    )
