import random
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Queue
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision, QualitySettings, ReReview
from moderation.review.rereview import (
    ReReviewNotHeld,
    rereview_claim_next,
    rereview_record,
    rereview_release,
    rereview_sample,
)
from moderation.review.services import case_decide


@pytest.fixture
def sampling(settings):
    """Sampling switched on, at the given share."""

    def set_share(share):
        settings.REREVIEW_SAMPLING = True
        QualitySettings.objects.update(rereview_share=share)

    return set_share


@pytest.fixture
def decide(submit_report):
    def make(reviewer, action="remove", category="harassment", policy="harassment"):
        submit_report(category=category)
        case = case_claim_next(user=reviewer)
        return case_decide(case_id=case.pk, user=reviewer, action=action, policy=policy)

    return make


@pytest.mark.django_db
class TestSampling:
    def test_it_samples_the_configured_share_with_an_injected_random_source(
        self, reviewer, decide, sampling
    ):
        sampling(0)
        decision = decide(reviewer)
        sampling("0.05")
        assert rereview_sample(decision=decision, draw=lambda: 0.0499) is not None
        ReReview.objects.all().delete()
        assert rereview_sample(decision=decision, draw=lambda: 0.05) is None

    def test_the_share_is_respected_over_many_decisions(self, reviewer, decide, sampling):
        sampling(0)
        decision = decide(reviewer)
        sampling("0.2")
        draw = random.Random(1234).random
        sampled = 0
        for _ in range(2000):
            task = rereview_sample(decision=decision, draw=draw)
            if task is not None:
                sampled += 1
                task.delete()
        # 400 expected; a seeded source makes this exact run reproducible.
        assert 340 < sampled < 460

    def test_zero_turns_sampling_off(self, reviewer, decide, sampling):
        sampling(0)
        decision = decide(reviewer)
        assert rereview_sample(decision=decision, draw=lambda: 0.0) is None

    def test_decisions_are_sampled_when_recorded(self, reviewer, decide, sampling):
        sampling(1)
        decision = decide(reviewer)
        task = ReReview.objects.get()
        assert task.decision == decision and task.queue.slug == "general"
        assert AuditEvent.objects.filter(verb="rereview.sampled", case=decision.case).exists()

    def test_a_referral_to_senior_review_is_not_sampled(self, reviewer, decide, sampling):
        sampling(1)
        decide(reviewer, action="senior_review")
        assert not ReReview.objects.exists()


@pytest.mark.django_db
class TestClaimAndRecord:
    def test_the_original_reviewer_never_gets_their_own_decision(self, make_user, decide, sampling):
        sampling(1)
        original = make_user("original")
        decide(original)
        assert rereview_claim_next(user=original) is None

    def test_it_needs_a_certification_for_the_cases_queue(self, make_user, decide, sampling):
        sampling(1)
        original = make_user("original")
        decide(original)
        uncertified = make_user("new", queues=Queue.objects.exclude(slug="general"))
        assert rereview_claim_next(user=uncertified) is None
        certified = make_user("other")
        task = rereview_claim_next(user=certified)
        assert task.assignee == certified and task.lease_expires_at > timezone.now()
        # Asking again returns the same task rather than a second one.
        assert rereview_claim_next(user=certified).pk == task.pk

    def test_two_reviewers_never_get_the_same_task(self, make_user, decide, sampling):
        sampling(1)
        original = make_user("original")
        decide(original)
        a, b = make_user("a"), make_user("b")
        assert rereview_claim_next(user=a) is not None
        assert rereview_claim_next(user=b) is None

    def test_a_lapsed_task_goes_to_the_next_reviewer(self, make_user, decide, sampling):
        sampling(1)
        decide(make_user("original"))
        a, b = make_user("a"), make_user("b")
        task = rereview_claim_next(user=a)
        ReReview.objects.filter(pk=task.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert rereview_claim_next(user=b).pk == task.pk
        with pytest.raises(ReReviewNotHeld, match="no longer yours"):
            rereview_record(task_id=task.pk, user=a, action="remove", policy="harassment")

    def test_a_handed_back_task_goes_to_someone_else(self, make_user, decide, sampling):
        sampling(1)
        decide(make_user("original"))
        a, b = make_user("a"), make_user("b")
        task = rereview_claim_next(user=a)
        rereview_release(task_id=task.pk, user=a)
        task.refresh_from_db()
        assert task.assignee is None and task.released_by == a
        assert AuditEvent.objects.filter(verb="rereview.released", actor=a).exists()
        assert rereview_claim_next(user=a) is None
        assert rereview_claim_next(user=b).pk == task.pk
        with pytest.raises(ReReviewNotHeld):
            rereview_release(task_id=task.pk, user=a)

    def test_agreement_is_recorded_and_nothing_reaches_a_supervisor(
        self, make_user, decide, sampling
    ):
        sampling(1)
        decide(make_user("original"), action="remove")
        other = make_user("other")
        task = rereview_claim_next(user=other)
        rereview_record(task_id=task.pk, user=other, action="remove", policy="harassment")
        task.refresh_from_db()
        assert task.status == ReReview.Status.AGREED and task.agrees is True
        assert task.reviewed_by == other and task.assignee is None

    def test_disagreement_waits_for_a_supervisor(self, make_user, decide, sampling):
        sampling(1)
        decision = decide(make_user("original"), action="remove")
        other = make_user("other")
        task = rereview_claim_next(user=other)
        rereview_record(task_id=task.pk, user=other, action="no_violation", policy="harassment")
        task.refresh_from_db()
        assert task.status == ReReview.Status.DISAGREED and task.agrees is False
        # A re-review asks nothing of the platform and leaves the case decided.
        assert Decision.objects.count() == 1
        assert decision.case.status == "decided"
        event = AuditEvent.objects.get(verb="rereview.recorded")
        assert event.after["original_action"] == "remove"
        assert event.after["status"] == "disagreed"

    def test_it_refuses_a_second_record_and_missing_fields(self, make_user, decide, sampling):
        sampling(1)
        decide(
            make_user("original"),
            action="no_violation",
            category="csam",
            policy="child-safety/sexual-exploitation",
        )
        other = make_user("other")
        task = rereview_claim_next(user=other)
        with pytest.raises(ValidationError) as e:
            rereview_record(
                task_id=task.pk,
                user=other,
                action="remove",
                policy="child-safety/sexual-exploitation",
            )
        assert set(e.value.message_dict) == {"intent", "classification"}
        rereview_record(
            task_id=task.pk,
            user=other,
            action="no_violation",
            policy="child-safety/sexual-exploitation",
        )
        with pytest.raises(ReReviewNotHeld, match="already recorded"):
            rereview_record(task_id=task.pk, user=other, action="remove", policy="spam")


@pytest.mark.django_db
class TestReReviewPages:
    def test_the_blind_page_does_not_show_the_original_decision(
        self, client, make_user, decide, sampling
    ):
        sampling(1)
        original = make_user("original-reviewer")
        decide(original, action="suspend")
        other = make_user("other")
        client.force_login(other)
        dashboard = client.get("/review/").content.decode()
        assert 'data-testid="rereviews"' in dashboard
        response = client.post("/rereview/next/")
        task = ReReview.objects.get()
        assert response.url == f"/rereview/{task.pk}/"
        page = client.get(response.url).content.decode()
        assert 'data-testid="blind-notice"' in page
        assert "original-reviewer" not in page
        assert "Suspend account" not in page.split('id="decision-form"')[0]
        assert "suspend_account" not in page and "Remove content ·" not in page
        # The case's own page would show the decision: it sends the re-reviewer back.
        response = client.get(f"/cases/{task.case_id}/")
        assert response.status_code == 302 and response.url == f"/rereview/{task.pk}/"

    def test_recording_through_the_page(self, client, make_user, decide, sampling):
        sampling(1)
        decide(make_user("original"), action="suspend")
        other = make_user("other")
        client.force_login(other)
        client.post("/rereview/next/")
        task = ReReview.objects.get()
        response = client.post(
            f"/rereview/{task.pk}/record/", {"action": "senior_review", "policy": "harassment"}
        )
        assert response.status_code == 400
        response = client.post(
            f"/rereview/{task.pk}/record/", {"action": "warn", "policy": "harassment"}
        )
        assert response.status_code == 302
        task.refresh_from_db()
        assert task.status == ReReview.Status.DISAGREED

    def test_another_reviewer_cannot_open_someone_elses_task(
        self, client, make_user, decide, sampling
    ):
        sampling(1)
        decide(make_user("original"))
        holder, nosy = make_user("holder"), make_user("nosy")
        task = rereview_claim_next(user=holder)
        client.force_login(nosy)
        assert client.get(f"/rereview/{task.pk}/").status_code == 403

    def test_senior_reviewers_see_the_dashboard_entry_too(
        self, client, make_user, decide, sampling
    ):
        sampling(1)
        decide(make_user("original"))
        client.force_login(make_user("senior", Role.SENIOR_REVIEWER))
        assert 'data-testid="rereviews"' in client.get("/review/").content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locking is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_concurrent_rereview_claims_hand_out_distinct_tasks(make_user, submit_report, settings):
    """Six reviewers take a re-review at the same moment: six different tasks."""
    settings.REREVIEW_SAMPLING = True
    QualitySettings.objects.update(rereview_share=1)
    original = make_user("original")
    for _ in range(6):
        submit_report(category="spam")
        case = case_claim_next(user=original)
        case_decide(case_id=case.pk, user=original, action="remove", policy="spam")
    reviewers = [make_user(f"r{i}") for i in range(6)]
    barrier = threading.Barrier(len(reviewers))
    claimed, errors = [], []

    def claim(user):
        try:
            barrier.wait()
            task = rereview_claim_next(user=user)
            claimed.append(task.pk if task else None)
        except Exception as e:  # surfaced below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(u,)) for u in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert None not in claimed and len(set(claimed)) == 6
    assert ReReview.objects.filter(assignee__isnull=False).count() == 6


@pytest.mark.django_db
def test_the_api_does_not_unblind_a_held_rereview(client, make_user, decide, settings):
    from accounts.services import api_token_create

    settings.REREVIEW_SAMPLING = True
    QualitySettings.objects.update(rereview_share=1)
    decision = decide(make_user("original"))
    other = make_user("other")
    token = api_token_create(user=other, name="cli")[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(f"/api/v1/cases/{decision.case_id}", **headers).status_code == 200
    task = rereview_claim_next(user=other)
    response = client.get(f"/api/v1/cases/{decision.case_id}", **headers)
    assert response.status_code == 403 and response.json()["error"] == "blind_rereview"
    rereview_record(task_id=task.pk, user=other, action="remove", policy="harassment")
    assert client.get(f"/api/v1/cases/{decision.case_id}", **headers).status_code == 200
