"""End to end, in a real browser: a member of the public reports, a reviewer decides, a supervisor
audits. These are the journeys the unit tests cannot see: templates, forms, vigil.js's shortcuts
and click-to-reveal, redirects and messages, all against the running app.

Nothing here waits for media hashing: with REDIS_URL set the hashing job sits in Redis unrun.
"""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from reports.media import inspect_image
from reports.models import Report
from tests.conftest import png_bytes

# live_server makes each test transactional; tests/conftest.py adds serialized_rollback so the
# roles and queues that data migrations create survive the flush after each one.
pytestmark = pytest.mark.browser

IMAGE_SIZE = (64, 48)


@pytest.fixture
def reviewer1(make_user):
    return make_user("reviewer1", Role.REVIEWER)


@pytest.fixture
def supervisor1(make_user):
    return make_user("supervisor1", Role.SUPERVISOR)


@pytest.fixture
def csam_case(submit_report):
    """Two waiting cases: an older spam one, then a child-safety one with an image.

    The spam case is older, so a queue worked oldest-first would hand it out first: getting the
    child-safety case proves "Review next" goes by priority.
    """
    submit_report(category="spam", content_url="https://social.example/p/spam")
    report = submit_report(
        category="csam",
        involves_child=True,
        content_url="https://social.example/p/csam",
        images=[inspect_image(png_bytes(size=IMAGE_SIZE), filename="photo.png")],
    )
    return report.case


def review_next(page, live_server, case):
    """From the dashboard, take the next case and check it is `case`."""
    # Exactly the header button: each queue row also has a "Review next here".
    page.get_by_role("button", name=re.compile(r"^Review next(?! here)")).click()
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Case {case.pk}")


def wait_for_revealed_image(page):
    """The revealed <img> has actually loaded from the audited media view."""
    image = page.locator(".media-frame img.revealed")
    expect(image).to_be_visible()
    # A broken image is visible too: only a decoded one has a natural width.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    return image.evaluate("img => [img.naturalWidth, img.naturalHeight]")


class TestPublicReport:
    def test_it_accepts_a_report_with_an_image_and_shows_its_reference(self, page, tmp_path):
        image_path = tmp_path / "screenshot.png"
        image_path.write_bytes(png_bytes(size=IMAGE_SIZE))

        page.goto("/report/")
        expect(page.get_by_role("heading", name="Report content")).to_be_visible()
        # Pick the category the way a person does: by its plain-language label.
        page.get_by_role("radio", name=re.compile(r"^Child sexual exploitation")).check()
        page.get_by_label("Where is it?").fill("https://social.example/p/4242")
        page.get_by_label("Anything else we should know").fill("Posted this morning.")
        page.get_by_label("This involves someone under 18").check()
        page.get_by_label("Screenshots, images or videos").set_input_files(image_path)
        page.get_by_role("button", name="Send report").click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("we have your report")
        reference = page.get_by_test_id("reference")
        expect(reference).to_have_text(re.compile(r"^VR-[A-Z2-9]{4}-[A-Z2-9]{4}$"))

        # The reference shown is the one stored, and the form's answers all arrived.
        report = Report.objects.get()
        assert reference.inner_text() == report.reference
        assert page.url.endswith(f"/report/received/{report.reference}/")
        assert report.category == "csam"
        assert report.involves_child is True
        assert report.description == "Posted this morning."
        assert report.content_item.url == "https://social.example/p/4242"
        assert report.case.queue.slug == "child-safety"
        media = report.media.get()
        assert media.mime == "image/png"
        assert media.size == image_path.stat().st_size


class TestReviewer:
    def test_it_reviews_the_most_urgent_case_and_records_a_decision(
        self, page, live_server, log_in, reviewer1, csam_case
    ):
        log_in(page, "reviewer1")
        expect(page.get_by_role("heading", name="Your queues")).to_be_visible()
        # Both seeded cases wait in queues the reviewer is certified for.
        # By slug: "Child safety" is also the start of "Child safety – known material".
        expect(page.get_by_test_id("queue-child-safety")).to_have_count(1)
        expect(page.get_by_test_id("queue-general")).to_have_count(1)

        review_next(page, live_server, csam_case)
        csam_case.refresh_from_db()
        assert csam_case.assignee == reviewer1
        expect(page.locator("#lease")).to_contain_text("Yours until")

        # Media stays hidden until asked for: nothing is fetched, nothing logged, yet.
        expect(page.locator(".media-frame img")).to_have_count(0)
        assert not AuditEvent.objects.filter(verb="media.viewed").exists()
        page.keyboard.press("r")
        assert wait_for_revealed_image(page) == list(IMAGE_SIZE)
        # The fetch the browser just made is the view the audit trail must show.
        assert AuditEvent.objects.filter(
            verb="media.viewed", actor=reviewer1, case=csam_case
        ).exists()

        # "2" is the second action, "Remove content": chosen from the keyboard.
        remove = page.locator("input[name=action][value=remove]")
        page.keyboard.press("2")
        expect(remove).to_be_checked()
        expect(page.get_by_label("Policy")).to_have_value("child-safety/sexual-exploitation")

        # Enter sends the form (here the browser's own submit-on-Enter, the radio having focus).
        # A child-safety removal without intent and classification is refused, and says why.
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{live_server.url}/cases/{csam_case.pk}/decide/")
        errors = page.locator("#decision-form .errors")
        expect(errors.filter(has_text="sharer's apparent intent")).to_be_visible()
        expect(errors.filter(has_text="industry classification")).to_be_visible()
        assert not Decision.objects.exists()
        csam_case.refresh_from_db()
        assert csam_case.status == Case.Status.OPEN
        assert csam_case.assignee == reviewer1

        # The refused form keeps what was chosen; add the two findings and send it again.
        expect(remove).to_be_checked()
        page.get_by_label("Sharer's apparent intent").select_option("malicious")
        page.get_by_label("Industry classification").select_option("A1")
        # Clicking outside the fields leaves nothing focused, so this Enter is vigil.js's shortcut.
        page.get_by_role("heading", name="Decide").click()
        page.keyboard.press("Enter")

        # Classified A1 it is CSAM: removal alone is refused, it must be reported too.
        expect(errors.filter(has_text="Escalate to authority")).to_be_visible()
        assert not Decision.objects.exists()
        page.keyboard.press("7")
        expect(page.locator("input[name=action][value=escalate]")).to_be_checked()
        expect(page.get_by_label("Industry classification")).to_have_value("A1")
        page.get_by_role("heading", name="Decide").click()
        page.keyboard.press("Enter")

        expect(page).to_have_url(re.compile(rf"{live_server.url}/escalations/\d+/$"))
        expect(page.get_by_role("status").first).to_have_text(
            f"Decision recorded on case {csam_case.pk}."
        )
        decision = Decision.objects.get()
        assert decision.case == csam_case
        assert decision.reviewer == reviewer1
        assert (decision.action, decision.intent, decision.classification) == (
            "escalate",
            "malicious",
            "A1",
        )
        assert decision.policy == "child-safety/sexual-exploitation"
        csam_case.refresh_from_db()
        assert csam_case.status == Case.Status.DECIDED

    def test_it_lets_the_reviewer_change_the_action_with_another_digit(
        self, page, live_server, log_in, reviewer1, submit_report
    ):
        # A digit focuses its radio; later shortcuts must still work (they once did not).
        case = submit_report(category="spam").case
        log_in(page, "reviewer1")
        page.keyboard.press("n")  # the dashboard's own shortcut for "Review next"
        expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
        page.keyboard.press("2")
        expect(page.locator("input[name=action][value=remove]")).to_be_checked()
        page.keyboard.press("1")
        expect(page.locator("input[name=action][value=no_violation]")).to_be_checked(timeout=1_000)
        page.keyboard.press("s")  # and skip still works from a focused radio
        expect(page).to_have_url(f"{live_server.url}/review/")

    def test_it_gets_the_403_page_for_the_audit_log(self, page, log_in, reviewer1):
        log_in(page, "reviewer1")
        # The console does not offer the link to a reviewer...
        expect(page.locator(".topbar").get_by_role("link", name="Audit log")).to_have_count(0)
        # ...and typing the address does not get round that.
        response = page.goto("/audit/")
        assert response.status == 403
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        # The error page keeps the console around it: who is logged in, and a way out.
        expect(page.locator(".topbar .who")).to_contain_text("reviewer1")
        expect(page.locator("table.audit")).to_have_count(0)


class TestSupervisor:
    def test_it_sees_the_reviewers_decision_and_media_view_in_the_audit_log(
        self, new_page, live_server, log_in, reviewer1, supervisor1, csam_case
    ):
        # The reviewer's part, through the real console, in their own browser.
        reviewer_page = new_page()
        log_in(reviewer_page, "reviewer1")
        review_next(reviewer_page, live_server, csam_case)
        reviewer_page.get_by_role("button", name=re.compile(r"^Reveal image")).click()
        wait_for_revealed_image(reviewer_page)
        reviewer_page.get_by_role("radio", name=re.compile(r"Escalate to authority")).check()
        reviewer_page.get_by_label("Sharer's apparent intent").select_option("non_malicious")
        reviewer_page.get_by_label("Industry classification").select_option("B2")
        reviewer_page.get_by_role("button", name=re.compile(r"^Record decision")).click()
        expect(reviewer_page.get_by_role("status").first).to_contain_text("Decision recorded")

        page = new_page()
        log_in(page, "supervisor1")
        page.locator(".topbar").get_by_role("link", name="Audit log").click()
        expect(page.get_by_role("heading", name="Audit log")).to_be_visible()

        def row(verb):
            # The event's code rides on its row; the cell says it in words.
            return page.locator(f"table.audit tbody tr[data-verb='{verb}']")

        # Who looked at the image, on which case: the reveal was logged as it happened.
        viewed = row("media.viewed")
        expect(viewed).to_have_count(1)
        expect(viewed.locator("td.actor")).to_have_text("reviewer1")
        expect(viewed.locator("td.case")).to_have_text(str(csam_case.pk))

        decided = row("case.decided")
        expect(decided).to_have_count(1)
        expect(decided.locator("td.actor")).to_have_text("reviewer1")
        expect(decided.locator("td.case")).to_have_text(str(csam_case.pk))
        # What it recorded, field by field, beneath its one-line summary.
        expect(decided.locator("td.verb")).to_have_text("Case decided")
        decided.locator("td.change summary").click()
        classification = decided.locator("td.change .field").filter(
            has=page.locator("dt", has_text=re.compile(r"^classification$"))
        )
        expect(classification.locator(".new")).to_contain_text("B2")

        # Filtering by event leaves only the decision.
        page.get_by_label("Event").select_option("case.decided")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"/audit/\?(.*&)?verb=case\.decided(&|$)"))
        expect(page.get_by_label("Event")).to_have_value("case.decided")
        rows = page.locator("table.audit > tbody > tr")
        expect(rows).to_have_count(1)
        expect(rows.locator("td.verb")).to_have_text("Case decided")
        expect(rows.locator("td.actor")).to_have_text("reviewer1")
        # The case cell leads to the case's whole timeline.
        expect(rows.locator("td.case").get_by_role("link")).to_have_attribute(
            "href", f"/audit/case/{csam_case.pk}/"
        )
