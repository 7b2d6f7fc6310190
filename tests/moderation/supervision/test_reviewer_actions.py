"""What a supervisor does from a reviewer's page: send a sample of their decisions to blind
re-review, renew a certification, pause them from sensitive queues."""

import random
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.certifications import certification_renew
from accounts.models import QueueCertification, SensitivePause
from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next, claimable_queue_ids
from moderation.decisions.models import Decision, ReReview
from moderation.review.rereview import rereview_assign_sample, rereview_claim_next
from moderation.review.services import case_decide


@pytest.fixture
def decide(submit_report):
    def make(reviewer, action="remove"):
        submit_report(category="harassment")
        case = case_claim_next(user=reviewer)
        return case_decide(case_id=case.pk, user=reviewer, action=action, policy="harassment")

    return make


@pytest.mark.django_db
class TestAssignReReview:
    def test_it_samples_only_decisions_a_re_review_can_still_second_guess(
        self, make_user, supervisor, decide
    ):
        rita, otto = make_user("rita"), make_user("otto")
        eligible = [decide(rita) for _ in range(3)]
        sampled = decide(rita)
        ReReview.objects.create(decision=sampled, case=sampled.case, queue=sampled.case.queue)
        referral = decide(rita, action="senior_review")
        old = decide(rita)
        Decision.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
        decide(otto)

        tasks = rereview_assign_sample(
            reviewer=rita, by=supervisor, count=10, days=7, rng=random.Random(1)
        )
        assert sorted(t.decision_id for t in tasks) == sorted(d.pk for d in eligible)
        assert referral.pk not in [t.decision_id for t in tasks]
        events = AuditEvent.objects.filter(verb="rereview.sampled", actor=supervisor)
        assert events.count() == 3
        summary = AuditEvent.objects.get(verb="rereview.assigned")
        assert summary.actor == supervisor and summary.object_id == str(rita.pk)
        assert summary.after["asked"] == 10 and len(summary.after["decisions"]) == 3
        # Blind: someone else takes it, never rita herself.
        assert rereview_claim_next(user=rita) is None
        assert rereview_claim_next(user=otto).decision.reviewer == rita

    def test_it_draws_at_most_the_number_asked(self, make_user, supervisor, decide):
        rita = make_user("rita")
        for _ in range(5):
            decide(rita)
        tasks = rereview_assign_sample(reviewer=rita, by=supervisor, count=2, days=30)
        assert len(tasks) == 2 and ReReview.objects.count() == 2

    def test_nothing_eligible_or_a_non_supervisor_is_refused(self, make_user, supervisor, decide):
        rita = make_user("rita")
        with pytest.raises(ValidationError) as e:
            rereview_assign_sample(reviewer=rita, by=supervisor, count=5, days=30)
        assert "None of rita's decisions" in str(e.value)
        decide(rita)
        with pytest.raises(PermissionDenied):
            rereview_assign_sample(reviewer=rita, by=make_user("peer"), count=5, days=30)
        with pytest.raises(ValidationError):
            rereview_assign_sample(reviewer=rita, by=supervisor, count=0, days=30)
        assert not ReReview.objects.exists()

    def test_the_page_assigns_and_redirects_or_shows_the_error(
        self, client, make_user, supervisor, decide
    ):
        rita = make_user("rita")
        for _ in range(3):
            decide(rita)
        client.force_login(supervisor)
        url = f"/supervise/team/{rita.pk}/rereview/"
        r = client.post(url, {"count": 5, "days": 30})
        assert r.status_code == 302 and r.url == f"/supervise/team/{rita.pk}/"
        r = client.get(r.url)
        assert b"3 of rita&#x27;s decisions sent to blind re-review (only 3 could be" in r.content
        assert ReReview.objects.count() == 3
        # All taken now: the form says so, nothing more is created.
        r = client.post(url, {"count": 5, "days": 30})
        assert r.status_code == 400
        assert "None of rita's decisions" in r.context["rereview_form"].errors["count"][0]
        r = client.post(url, {"count": 500, "days": 30})
        assert r.status_code == 400 and "count" in r.context["rereview_form"].errors
        assert ReReview.objects.count() == 3


@pytest.mark.django_db
class TestRenewCertification:
    def expire(self, user):
        cert = user.certifications.select_related("queue").first()
        QueueCertification.objects.filter(pk=cert.pk).update(
            granted_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(days=1),
        )
        return cert

    def test_a_renewed_certification_lets_them_claim_again(self, make_user, supervisor):
        rita = make_user("rita")
        cert = self.expire(rita)
        assert cert.queue_id not in claimable_queue_ids(rita)
        new = timezone.now() + timedelta(days=180)
        certification_renew(certification_id=cert.pk, expires_at=new, by=supervisor)
        cert.refresh_from_db()
        assert cert.expires_at == new and cert.granted_by == supervisor
        assert cert.queue_id in claimable_queue_ids(rita)
        event = AuditEvent.objects.get(verb="queuecertification.renewed")
        assert event.actor == supervisor and event.after["queue"] == cert.queue.slug
        assert event.before["expires_at"] < event.after["expires_at"]

    def test_a_past_or_too_distant_expiry_or_a_non_supervisor_is_refused(
        self, make_user, supervisor
    ):
        rita = make_user("rita")
        cert = rita.certifications.first()
        for when in (timezone.now() - timedelta(hours=1), timezone.now() + timedelta(days=800)):
            with pytest.raises(ValidationError):
                certification_renew(certification_id=cert.pk, expires_at=when, by=supervisor)
        with pytest.raises(PermissionDenied):
            certification_renew(
                certification_id=cert.pk, expires_at=timezone.now() + timedelta(days=1), by=rita
            )
        assert not AuditEvent.objects.filter(verb="queuecertification.renewed").exists()

    def test_the_page_renews_through_the_chosen_day(self, client, make_user, supervisor):
        rita, otto = make_user("rita"), make_user("otto")
        cert = self.expire(rita)
        client.force_login(supervisor)
        url = f"/supervise/team/{rita.pk}/certifications/{cert.pk}/renew/"
        day = timezone.localdate() + timedelta(days=90)
        r = client.post(url, {f"cert{cert.pk}-expires_on": day.isoformat()})
        assert r.status_code == 302
        assert b"renewed through " + day.isoformat().encode() in client.get(r.url).content
        cert.refresh_from_db()
        assert timezone.localtime(cert.expires_at).date() == day
        # Yesterday: a form error on that certification's row, nothing changed.
        r = client.post(url, {f"cert{cert.pk}-expires_on": date(2020, 1, 1).isoformat()})
        assert r.status_code == 400 and b"Choose a day after today" in r.content
        r = client.post(url, {f"cert{cert.pk}-expires_on": (day + timedelta(days=800))})
        assert r.status_code == 400 and b"at most 730 days" in r.content
        cert.refresh_from_db()
        assert timezone.localtime(cert.expires_at).date() == day
        # Another reviewer's certification through rita's URL: not found.
        theirs = otto.certifications.first()
        url = f"/supervise/team/{rita.pk}/certifications/{theirs.pk}/renew/"
        assert client.post(url, {f"cert{theirs.pk}-expires_on": day}).status_code == 404


@pytest.mark.django_db
def test_pausing_from_the_reviewers_page_comes_back_to_it(client, reviewer, supervisor):
    client.force_login(supervisor)
    r = client.post(
        f"/supervise/team/{reviewer.pk}/pause/", {"hours": 4, "reason": "", "back": "reviewer"}
    )
    assert r.url == f"/supervise/team/{reviewer.pk}/"
    assert SensitivePause.objects.filter(user=reviewer).exists()
    assert b'data-testid="paused"' in client.get(r.url).content
    r = client.post(f"/supervise/team/{reviewer.pk}/resume/", {"back": "reviewer"})
    assert r.url == f"/supervise/team/{reviewer.pk}/"
    assert client.post(f"/supervise/team/{reviewer.pk}/resume/").url == "/supervise/team/"
