"""Exposure per shift, the break suggestion, and a supervisor's pause from sensitive queues."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ExposureEvent, SensitivePause
from accounts.roles import Role
from accounts.wellness import current_pause, exposure_this_shift
from moderation.audit.models import AuditEvent
from moderation.cases.models import Queue
from moderation.cases.services import (
    case_claim_next,
    claimable_queue_ids,
    sensitive_pause,
    sensitive_pause_lift,
)
from moderation.review.services import case_decide


def decide_next(user, **kwargs):
    case = case_claim_next(user=user)
    fields = {"action": "no_violation", "policy": "harassment", **kwargs}
    case_decide(case_id=case.pk, user=user, **fields)
    return case


@pytest.mark.django_db
class TestSensitiveQueues:
    def test_child_safety_and_self_reports_are_sensitive(self):
        assert set(Queue.objects.filter(sensitive=True).values_list("slug", flat=True)) == {
            "child-safety",
            "child-safety-known",
            "self-reports",
        }


@pytest.mark.django_db
class TestExposure:
    def test_reveals_and_sensitive_decisions_count_other_decisions_do_not(
        self, client, reviewer, submit_report, png_upload
    ):
        csam = submit_report(category="csam", images=[png_upload()])
        submit_report(category="spam")
        client.force_login(reviewer)
        media = csam.media.get()
        client.get(f"/cases/{csam.case_id}/media/{media.pk}/")
        client.get(f"/cases/{csam.case_id}/media/{media.pk}/")  # each reveal is an exposure
        decide_next(reviewer)  # the child-safety case comes first: sensitive
        decide_next(reviewer)  # spam: counted for rotation, not as exposure
        exposure = exposure_this_shift(reviewer)
        assert (exposure.reveals, exposure.sensitive_decisions, exposure.total) == (2, 1, 3)
        assert ExposureEvent.objects.filter(user=reviewer, kind="decision").count() == 2

    def test_a_shift_is_a_rolling_window(self, settings, reviewer, submit_report):
        settings.WELLNESS_SHIFT_HOURS = 8
        submit_report(category="csam")
        decide_next(reviewer)
        ExposureEvent.objects.update(at=timezone.now() - timedelta(hours=9))
        assert exposure_this_shift(reviewer).total == 0
        ExposureEvent.objects.update(at=timezone.now() - timedelta(hours=7))
        assert exposure_this_shift(reviewer).total == 1

    def test_a_senior_review_decision_counts_in_the_queue_it_was_made_in(
        self, reviewer, submit_report
    ):
        submit_report(category="csam")
        decide_next(reviewer, action="senior_review", policy="child-safety/sexual-exploitation")
        event = ExposureEvent.objects.get()
        assert event.queue.slug == "child-safety" and event.sensitive

    def test_the_count_is_one_query(self, reviewer, django_assert_num_queries):
        with django_assert_num_queries(1):
            exposure_this_shift(reviewer)


@pytest.mark.django_db
class TestBreakSuggestion:
    def test_at_the_cap_the_dashboard_and_case_page_suggest_a_break(
        self, settings, client, reviewer, submit_report
    ):
        settings.WELLNESS_EXPOSURE_CAP = 2
        for _ in range(3):
            submit_report(category="csam")
        client.force_login(reviewer)
        decide_next(reviewer)
        assert b"Time for a break?" not in client.get("/review/").content
        decide_next(reviewer)
        page = client.get("/review/").content
        assert b"Time for a break?" in page and b"decided 2 sensitive cases" in page
        # A suggestion, not a blocker: the next case can still be taken and is shown with it.
        r = client.post("/review/next/", follow=True)
        assert r.redirect_chain[-1][0].startswith("/cases/")
        assert b"Time for a break?" in r.content

    def test_a_cap_of_zero_never_suggests(self, settings, client, reviewer, submit_report):
        settings.WELLNESS_EXPOSURE_CAP = 0
        submit_report(category="csam")
        decide_next(reviewer)
        client.force_login(reviewer)
        assert b"Time for a break?" not in client.get("/review/").content


@pytest.mark.django_db
class TestPause:
    def test_a_paused_reviewer_claims_nothing_sensitive_and_sees_why(
        self, client, reviewer, supervisor, submit_report
    ):
        submit_report(category="csam")
        spam = submit_report(category="spam").case
        sensitive_pause(
            user=reviewer,
            until=timezone.now() + timedelta(hours=4),
            reason="heavy week",
            by=supervisor,
        )
        sensitive_ids = set(Queue.objects.filter(sensitive=True).values_list("pk", flat=True))
        assert not sensitive_ids & set(claimable_queue_ids(reviewer))
        assert case_claim_next(user=reviewer).pk == spam.pk
        client.force_login(reviewer)
        page = client.get("/review/").content
        assert b"Your access to sensitive queues is paused until" in page
        assert b"heavy week" in page
        event = AuditEvent.objects.get(verb="wellness.paused")
        assert event.actor == supervisor and event.after["reviewer"] == reviewer.username

    def test_pausing_returns_a_held_sensitive_case_to_the_queue(
        self, reviewer, supervisor, submit_report
    ):
        submit_report(category="csam")
        case = case_claim_next(user=reviewer)
        sensitive_pause(
            user=reviewer, until=timezone.now() + timedelta(hours=1), reason="", by=supervisor
        )
        case.refresh_from_db()
        assert case.assignee is None
        assert AuditEvent.objects.filter(verb="case.released", case=case).exists()

    def test_a_pause_ends_by_itself_or_when_lifted(self, reviewer, supervisor, submit_report):
        csam = submit_report(category="csam").case
        pause = sensitive_pause(
            user=reviewer, until=timezone.now() + timedelta(hours=1), reason="", by=supervisor
        )
        assert current_pause(reviewer) == pause
        assert current_pause(reviewer, now=timezone.now() + timedelta(hours=2)) is None
        assert sensitive_pause_lift(user=reviewer, by=supervisor) == 1
        assert current_pause(reviewer) is None
        assert AuditEvent.objects.filter(verb="wellness.resumed").exists()
        assert case_claim_next(user=reviewer).pk == csam.pk

    def test_only_supervisors_pause_and_only_into_the_future(self, reviewer, make_user):
        from django.core.exceptions import PermissionDenied, ValidationError

        with pytest.raises(PermissionDenied):
            sensitive_pause(
                user=reviewer,
                until=timezone.now() + timedelta(hours=1),
                reason="",
                by=make_user("peer"),
            )
        with pytest.raises(ValidationError):
            sensitive_pause(
                user=reviewer,
                until=timezone.now() - timedelta(hours=1),
                reason="",
                by=make_user("boss", Role.SUPERVISOR),
            )
        assert not SensitivePause.objects.exists()


@pytest.mark.django_db
def test_an_admin_marks_a_queue_sensitive(admin_client):
    from tests.moderation.cases.test_routing import queue_form

    page = admin_client.get(
        f"/admin/moderation/queue/{Queue.objects.get(slug='child-safety').pk}/change/"
    )
    assert page.context["adminform"].form["sensitive"].value() is True
    r = admin_client.post("/admin/moderation/queue/add/", queue_form(sensitive="on"))
    assert r.status_code == 302
    assert Queue.objects.get(slug="portuguese").sensitive is True
