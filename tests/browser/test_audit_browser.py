"""The audit browser in a real browser: a supervisor filters to one reviewer, opens a case's
timeline, asks who saw its file, downloads the filtered events as CSV, then downloads the
transparency report (issue 7's journey); and the log reads at a desktop's and a laptop's width,
each change opening beneath its one-line summary (issue 17)."""

import csv
import io

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
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
    expect(page.locator("td.verb")).to_contain_text(["Case decided", "Media viewed"])

    page.get_by_role("link", name=f"Open case {case.pk}").click()
    page.get_by_test_id("who-saw").click()
    expect(page.locator("td.verb")).to_have_text(["Media viewed"])
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


# A desktop, a laptop and a small laptop.
WIDTHS = (1440, 1280, 1024)


def test_the_log_reads_at_a_desktops_and_a_laptops_width(page, log_in, make_user, submit_report):
    rita = make_user("rita", Role.REVIEWER)
    make_user("supervisor1", Role.SUPERVISOR)
    submit_report()
    case = case_claim_next(user=rita)
    case_decide(case_id=case.pk, user=rita, action="warn", policy="harassment")
    # Long values: words, and a token with no break in it (a URL, a hash).
    audit_record(
        verb="case.noted",
        obj=case,
        case=case,
        actor=rita,
        after={"notes": "A long note that a reviewer wrote, " * 6, "sha256": "ab12" * 40},
    )
    log_in(page, "supervisor1")
    page.goto("/audit/")
    decided = page.locator("tr[data-verb='case.decided']")
    # In words, the code on hover.
    expect(decided.locator("td.verb")).to_have_text("Case decided")
    expect(decided.locator("td.verb [title]")).to_have_attribute("title", "case.decided")
    expect(decided.locator("td.object a")).to_have_text(f"Case {case.pk}")
    expect(decided.locator("td.object a")).to_have_attribute("title", f"moderation.case {case.pk}")

    # The change in one line; its fields open beneath it.
    summary = decided.locator("td.change summary")
    diff = decided.locator("td.change dl.diff")
    expect(summary).to_be_visible()
    expect(diff).to_be_hidden()
    summary.click()
    expect(diff).to_be_visible()
    policy = diff.locator(".field").filter(has=page.locator("dt", has_text="policy"))
    expect(policy.locator(".new")).to_have_text('"harassment"')
    expect(policy.locator(".new")).to_be_visible()
    noted = page.locator("tr[data-verb='case.noted']")
    noted.locator("td.change summary").click()

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        # Every change cell keeps room to read: no longer one letter a line.
        widths = page.locator("[data-testid=audit-events] td.change").evaluate_all(
            "cells => cells.map(c => c.getBoundingClientRect().width)"
        )
        assert widths and min(widths) > 200, (width, widths)
        # Nothing pushes the page sideways.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (width, overflow)
        # Long values wrap inside their cell, words on a line rather than letters.
        cell = noted.locator("td.change").bounding_box()
        for name in ("notes", "sha256"):
            field = noted.locator(".field").filter(has=page.locator("dt", has_text=name))
            expect(field.locator(".new")).to_be_visible()
            box = field.locator(".new").bounding_box()
            assert cell["x"] <= box["x"], (width, name, cell, box)
            assert box["x"] + box["width"] <= cell["x"] + cell["width"] + 1, (width, name, box)
            assert box["width"] > 150, (width, name, box)

    summary.click()
    expect(diff).to_be_hidden()
