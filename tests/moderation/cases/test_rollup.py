import pytest

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case, Queue
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide
from reports.content import ContentFacts


def decide(user, action="no_violation", policy="harassment"):
    case = case_claim_next(user=user)
    case_decide(case_id=case.pk, user=user, action=action, policy=policy)
    return case


@pytest.mark.django_db
class TestRollup:
    def test_reports_about_one_item_join_its_open_case(self, submit_report):
        first = submit_report(platform_id="p1")
        second = submit_report(platform_id="p1", content_url="https://other.example/")
        assert first.case_id == second.case_id
        assert Case.objects.get().reports_count == 2

    def test_a_decided_item_reported_again_with_nothing_new_is_counted_not_requeued(
        self, reviewer, submit_report
    ):
        submit_report(platform_id="p1")
        case = decide(reviewer)
        again = submit_report(platform_id="p1")
        case.refresh_from_db()
        assert again.case_id == case.pk
        assert case.status == "decided"
        assert case.reports_count == 2
        assert (
            AuditEvent.objects.get(verb="report.received", object_id=str(again.pk)).after["case"]
            == "counted"
        )

    def test_a_new_category_reopens_the_case(self, reviewer, submit_report):
        submit_report(platform_id="p1", category="harassment")
        case = decide(reviewer)
        submit_report(platform_id="p1", category="csam")
        case.refresh_from_db()
        assert case.status == "open"
        assert case.category == "csam"
        assert case.queue.slug == "child-safety"
        event = AuditEvent.objects.get(verb="case.reopened")
        assert event.after["reasons"] == ["new category csam"]

    def test_new_media_reopens_the_case_and_known_media_does_not(
        self, reviewer, submit_report, png_upload
    ):
        submit_report(platform_id="p1", images=[png_upload(colour=(1, 1, 1))])
        case = decide(reviewer)
        submit_report(platform_id="p1", images=[png_upload(colour=(1, 1, 1))])
        case.refresh_from_db()
        assert case.status == "decided"
        submit_report(platform_id="p1", images=[png_upload(colour=(9, 9, 9))])
        case.refresh_from_db()
        assert case.status == "open"
        assert AuditEvent.objects.get(verb="case.reopened").after["reasons"] == ["new media"]

    def test_a_more_severe_report_takes_the_case_from_its_holder_and_moves_it(
        self, make_user, submit_report
    ):
        from moderation.cases.services import CaseNotHeld

        generalist = make_user("gen", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        submit_report(platform_id="p1", category="spam")
        case = case_claim_next(user=generalist)
        submit_report(platform_id="p1", category="csam")
        case.refresh_from_db()
        assert case.queue.slug == "child-safety"
        assert case.assignee is None  # they had not seen the CSAM report: no deciding on it
        assert AuditEvent.objects.get(verb="case.rerouted").after["queue"] == "child-safety"
        assert AuditEvent.objects.get(verb="case.released").after["reasons"] == [
            "new category csam"
        ]
        with pytest.raises(CaseNotHeld):
            case_decide(case_id=case.pk, user=generalist, action="no_violation", policy="spam")

    def test_new_media_on_a_held_case_releases_it_too(self, reviewer, submit_report, png_upload):
        submit_report(platform_id="p1")
        case = case_claim_next(user=reviewer)
        submit_report(platform_id="p1", images=[png_upload()])
        case.refresh_from_db()
        assert case.assignee is None

    def test_nothing_new_leaves_the_holder_alone(self, reviewer, submit_report):
        submit_report(platform_id="p1")
        case = case_claim_next(user=reviewer)
        submit_report(platform_id="p1")
        case.refresh_from_db()
        assert case.assignee == reviewer

    def test_a_decided_item_newly_reported_as_involving_a_child_reopens(
        self, reviewer, submit_report
    ):
        submit_report(platform_id="p1")
        case = decide(reviewer)
        submit_report(platform_id="p1", involves_child=True)
        case.refresh_from_db()
        assert case.status == "open" and case.decided_at is None
        assert case.waiting_since > case.created_at

    def test_a_case_sent_to_senior_review_stays_there(self, reviewer, submit_report):
        submit_report(platform_id="p1", category="harassment")
        case = decide(reviewer, action="senior_review")
        submit_report(platform_id="p1", category="csam")
        case.refresh_from_db()
        assert case.queue.slug == "senior-review"
        assert case.category == "csam"

    def test_no_intake_audit_event_carries_the_reporters_address(self, submit_report):
        submit_report(reporter_ip="203.0.113.7", reporter_email="me@example.org")
        assert AuditEvent.objects.exclude(ip=None).count() == 0
        for event in AuditEvent.objects.all():
            assert "me@example.org" not in str(event.after)


@pytest.mark.django_db
def test_counters_kept_one_at_a_time_match_a_full_recount(submit_report):
    from moderation.cases.rollup import case_recount
    from reports.services import flag_submit

    reporters = ["a@example.org", "b@example.org", "a@example.org", "", "", "c@example.org"]
    for n, email in enumerate(reporters):
        submit_report(platform_id="p1", reporter_email=email)
        flag_submit(
            source="clf",
            external_id=f"x{n}",
            category="spam",
            score=n / 10,
            content=ContentFacts(platform_id="p1"),
        )
    case = Case.objects.get()
    kept = (case.reports_count, case.reporters_count, case.flags_count, case.max_flag_score)
    case_recount(case)
    assert kept == (case.reports_count, case.reporters_count, case.flags_count, case.max_flag_score)
    assert kept == (6, 5, 6, 0.5)
