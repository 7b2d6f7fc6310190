"""Issue 14's scenario, in a real browser: an image matching the known-material bank, reported as
harassment, must not be closed as "No violation" by a reviewer with two keys.

It once landed in a non-sensitive queue and a reviewer closed it with `1` then Enter without
revealing it. Now the match routes the case to the child-safety known-material queue whatever it
was reported as, the page says before anything is recorded that only "Escalate to authority"
closes it, and the same two keys refer it to senior review: the bank's removal request and draft
escalation stay in force until a senior reviewer decides.
"""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from reports.models import Report
from tests.moderation.signals import KNOWN, known_bank

pytestmark = pytest.mark.browser

CONTENT_URL = "https://social.example/p/known-1"


def run_worker():
    """With Redis, what intake queued (the media's hashing) waits there: a real worker runs it."""
    from rq import SimpleWorker

    from lib.jobs import get_queue

    queues = [get_queue(name) for name in settings.RQ_QUEUE_NAMES]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True)


def report_as_harassment(page) -> Report:
    """A member of the public reports the known image as harassment, through the public form."""
    page.goto("/report/")
    page.get_by_role("radio", name=re.compile(r"^Harassment or bullying")).check()
    page.get_by_label("Where is it?").fill(CONTENT_URL)
    page.get_by_label("Screenshots, images or videos").set_input_files(KNOWN)
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("we have your report")
    if not settings.JOBS_EAGER:
        run_worker()
    return Report.objects.get()


def dashboard_message(page):
    return page.locator(".messages .msg")


def test_a_known_image_reported_as_harassment_cannot_be_closed_with_two_keys(
    new_page, live_server, log_in, make_user
):
    known_bank()
    reviewer = make_user("reviewer1", Role.REVIEWER)
    senior = make_user("senior1", Role.SENIOR_REVIEWER)

    # 1. The public reports the image under the wrong category; hashing matches it to the bank.
    report = report_as_harassment(new_page())
    case = Case.objects.get(pk=report.case_id)
    assert case.category == "harassment"
    assert case.queue.slug == "child-safety-known", "the match routes it whatever the category"
    assert case.queue.sensitive
    # What the bank set going at once: the content's removal and a draft report to the authority.
    removal = EnforcementAction.objects.get(case=case, kind="remove_content")
    assert (removal.target, removal.status) == (CONTENT_URL, "pending")
    escalation = Escalation.objects.get(cases=case)
    assert escalation.status == "draft"

    # 2. A reviewer takes the next case by keyboard: it is this one, guarded, media still hidden.
    page = new_page()
    log_in(page, "reviewer1")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator(".page-head")).to_contain_text("Child safety – known material")
    notice = page.get_by_test_id("guard-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("matches known material (known-material match: Known CSAM)")
    expect(notice).to_contain_text("Only “Escalate to authority” closes it from here")
    expect(page.get_by_test_id("matches")).to_contain_text("Known CSAM")
    # Nothing revealed: no image fetched, none logged as seen.
    expect(page.locator(".media-frame")).to_have_count(1)
    expect(page.locator(".media-frame img")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^Reveal image"))).to_be_visible()
    # The choices say what they do before anything is chosen.
    choices = page.locator("#decision-form fieldset label.choice")
    expect(choices.first).to_contain_text("1 No violation → senior review")
    expect(choices.filter(has_text="Escalate to authority")).not_to_contain_text("senior review")

    # Exactly the old two-key close: "1" (the first choice, No violation), then Enter.
    page.keyboard.press("1")
    expect(page.locator("input[name=action][value=no_violation]")).to_be_checked()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/review/")
    message = dashboard_message(page)
    expect(message).to_have_count(1)
    expect(message).to_contain_text(f"Case {case.pk} went to senior review")
    expect(message).to_contain_text("(No violation)")
    expect(message).to_contain_text("matches known material")
    expect(page.get_by_text(f"Decision recorded on case {case.pk}.")).to_have_count(0)

    # Not decided: referred, with what the reviewer chose and why.
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    assert case.queue.slug == "senior-review"
    assert case.assignee is None
    referral = Decision.objects.get(case=case)
    assert referral.reviewer == reviewer
    assert referral.action == "senior_review"
    assert referral.proposed_action == "no_violation"
    assert "matches known material" in referral.referral_reason
    assert not AuditEvent.objects.filter(verb="media.viewed", case=case).exists()
    # What the bank asked stays in force.
    removal.refresh_from_db()
    assert removal.status == "pending"
    escalation.refresh_from_db()
    assert escalation.status == "draft"

    # 3. A senior reviewer takes it from the senior queue and sees the referral.
    senior_page = new_page()
    log_in(senior_page, "senior1")
    senior_page.keyboard.press("n")
    expect(senior_page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    expect(senior_page.locator(".page-head")).to_contain_text("Senior review")
    shown = senior_page.get_by_test_id("referral")
    expect(shown).to_contain_text("Proposed No violation.")
    expect(shown).to_contain_text(referral.referral_reason)
    # A senior reviewer's decision is the second look: no guard, no "→ senior review".
    expect(senior_page.get_by_test_id("guard-notice")).to_have_count(0)
    expect(senior_page.locator("#decision-form")).not_to_contain_text("→ senior review")

    # They find it is what the bank says and escalate it, with the two findings it needs.
    senior_page.locator("input[name=action][value=escalate]").check()
    senior_page.get_by_label("Policy").select_option("child-safety/sexual-exploitation")
    senior_page.get_by_label("Sharer's apparent intent").select_option("malicious")
    senior_page.get_by_label("Industry classification").select_option("A1")
    senior_page.get_by_label("Notes").fill("Known material; the referral stands as a finding.")
    senior_page.get_by_role("button", name=re.compile(r"^Record decision")).click()

    # The decision leads to the bank's escalation, now the senior reviewer's to write.
    expect(senior_page).to_have_url(f"{live_server.url}/escalations/{escalation.pk}/")
    case.refresh_from_db()
    assert case.status == Case.Status.DECIDED
    final = case.decisions.exclude(pk=referral.pk).get()
    assert (final.reviewer, final.action, final.classification, final.intent) == (
        senior,
        "escalate",
        "A1",
        "malicious",
    )
    assert not final.proposed_action
    removal.refresh_from_db()
    assert removal.status == "pending", "an escalation keeps the removal"


def test_a_reviewers_escalation_closes_it_into_the_banks_escalation(
    new_page, live_server, log_in, make_user
):
    """The one close the guard leaves a reviewer: "Escalate to authority", no referral."""
    known_bank()
    make_user("reviewer1", Role.REVIEWER)
    case = Case.objects.get(pk=report_as_harassment(new_page()).case_id)
    banks_escalation = Escalation.objects.get(cases=case)

    page = new_page()
    log_in(page, "reviewer1")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    expect(page.get_by_test_id("guard-notice")).to_be_visible()
    page.get_by_role("radio", name=re.compile(r"Escalate to authority")).check()
    page.get_by_label("Policy").select_option("child-safety/sexual-exploitation")
    page.get_by_label("Sharer's apparent intent").select_option("malicious")
    page.get_by_label("Industry classification").select_option("A2")
    page.get_by_role("button", name=re.compile(r"^Record decision")).click()

    expect(page).to_have_url(f"{live_server.url}/escalations/{banks_escalation.pk}/")
    case.refresh_from_db()
    assert case.status == Case.Status.DECIDED
    decision = Decision.objects.get(case=case)
    assert (decision.action, decision.proposed_action, decision.referral_reason) == (
        "escalate",
        "",
        "",
    )
    # One draft per case: the decision joins the escalation the bank opened (the content has no
    # known owner to gather by).
    assert list(Escalation.objects.filter(cases=case)) == [banks_escalation]


def test_a_csam_finding_other_than_escalation_is_refused_on_the_page(
    page, live_server, log_in, make_user, submit_report
):
    make_user("reviewer1", Role.REVIEWER)
    case = submit_report(category="csam", content_url="https://social.example/p/csam").case
    log_in(page, "reviewer1")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")

    page.get_by_role("radio", name=re.compile(r"Send safety notice")).check()
    page.get_by_label("Sharer's apparent intent").select_option("non_malicious")
    page.get_by_label("Industry classification").select_option("B2")
    page.get_by_role("button", name=re.compile(r"^Record decision")).click()

    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/decide/")
    error = page.locator("#decision-form .errors", has_text="child sexual abuse material")
    expect(error).to_contain_text("Choose “Escalate to authority”")
    # The refused form keeps the reviewer's choices.
    expect(page.locator("input[name=action][value=safety_notice]")).to_be_checked()
    expect(page.get_by_label("Sharer's apparent intent")).to_have_value("non_malicious")
    expect(page.get_by_label("Industry classification")).to_have_value("B2")
    assert not Decision.objects.exists()
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
