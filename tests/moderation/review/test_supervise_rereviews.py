import pytest
from django.core.exceptions import ValidationError

from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision, QualitySettings, ReReview
from moderation.enforcement.models import EnforcementAction
from moderation.review.rereview import rereview_claim_next, rereview_record, rereview_resolve
from moderation.review.services import case_decide


@pytest.fixture
def disagreement(settings, make_user, submit_report):
    """A suspension by "original", re-reviewed blind by "second" as a warning."""
    settings.REREVIEW_SAMPLING = True
    QualitySettings.objects.update(rereview_share=1)

    def make(content_id="post-7"):
        original, second = make_user(f"original-{content_id}"), make_user(f"second-{content_id}")
        submit_report(category="harassment", platform_id=content_id, owner_id="owner-1")
        case = case_claim_next(user=original)
        decision = case_decide(
            case_id=case.pk, user=original, action="suspend", policy="harassment"
        )
        task = rereview_claim_next(user=second)
        rereview_record(
            task_id=task.pk,
            user=second,
            action="warn",
            policy="harassment",
            notes="a first offence",
        )
        task.refresh_from_db()
        return task, decision

    return make


@pytest.mark.django_db
class TestResolve:
    def test_the_original_standing_is_recorded_and_audited(self, supervisor, disagreement):
        task, decision = disagreement()
        rereview_resolve(task_id=task.pk, user=supervisor, stands="original", note="policy 4.2")
        task.refresh_from_db()
        assert task.status == ReReview.Status.RESOLVED and task.stands == "original"
        assert task.resolved_by == supervisor and task.resolution_note == "policy 4.2"
        event = AuditEvent.objects.get(verb="rereview.resolved")
        assert event.actor == supervisor
        assert event.after["stands"] == "original" and event.after["note"] == "policy 4.2"
        assert event.before == {
            "status": "disagreed",
            "original_action": "suspend",
            "rereview_action": "warn",
        }
        # Nothing changed on the case.
        assert Decision.objects.filter(case=task.case).count() == 1
        assert not decision.actions.filter(status="reversed").exists()

    def test_the_rereview_standing_replaces_the_decision_and_its_actions(
        self, supervisor, disagreement
    ):
        task, decision = disagreement()
        rereview_resolve(task_id=task.pk, user=supervisor, stands="rereview", note="too harsh")
        correction = Decision.objects.filter(case=task.case).order_by("-pk").first()
        assert correction.action == "warn" and correction.reviewer == supervisor
        assert set(decision.actions.values_list("status", flat=True)) == {
            EnforcementAction.Status.REVERSED
        }
        assert list(correction.actions.values_list("kind", flat=True)) == ["warn"]
        event = AuditEvent.objects.get(verb="rereview.resolved")
        assert event.after["decision"] == correction.pk

    def test_it_refuses_a_second_resolution_and_a_missing_note(self, supervisor, disagreement):
        task, _ = disagreement()
        with pytest.raises(ValidationError, match="why"):
            rereview_resolve(task_id=task.pk, user=supervisor, stands="original", note=" ")
        rereview_resolve(task_id=task.pk, user=supervisor, stands="original", note="ok")
        with pytest.raises(ValidationError, match="not waiting"):
            rereview_resolve(task_id=task.pk, user=supervisor, stands="rereview", note="ok")

    def test_it_refuses_to_replace_a_decision_the_case_has_moved_past(
        self, supervisor, disagreement, submit_report
    ):
        task, _ = disagreement()
        # A report with something new reopens the case.
        submit_report(category="spam", platform_id="post-7")
        with pytest.raises(ValidationError, match="moved on"):
            rereview_resolve(task_id=task.pk, user=supervisor, stands="rereview", note="x")
        task.refresh_from_db()
        assert task.status == ReReview.Status.DISAGREED


@pytest.mark.django_db
class TestSupervisePage:
    def test_disagreements_reach_the_supervisor_with_both_decisions(
        self, client, supervisor, disagreement, django_assert_max_num_queries
    ):
        for n in range(3):
            disagreement(content_id=f"post-{n}")
        client.force_login(supervisor)
        with django_assert_max_num_queries(12):
            page = client.get("/supervise/rereviews/").content.decode()
        assert page.count("<tr>") == 4  # a header and three disagreements
        assert "original-post-0" in page and "second-post-0" in page
        assert "a first offence" in page

    def test_resolving_through_the_page(self, client, supervisor, disagreement):
        task, _ = disagreement()
        client.force_login(supervisor)
        response = client.post(f"/supervise/rereviews/{task.pk}/resolve/", {"stands": "original"})
        assert response.status_code == 302
        task.refresh_from_db()
        assert task.status == ReReview.Status.DISAGREED  # a note is needed
        client.post(
            f"/supervise/rereviews/{task.pk}/resolve/", {"stands": "original", "note": "fine"}
        )
        task.refresh_from_db()
        assert task.status == ReReview.Status.RESOLVED
        page = client.get("/supervise/rereviews/").content.decode()
        assert "No disagreement is waiting." in page and "fine" in page

    def test_reviewers_may_not_resolve(self, client, reviewer, disagreement):
        task, _ = disagreement()
        client.force_login(reviewer)
        assert client.get("/supervise/rereviews/").status_code == 403
        response = client.post(
            f"/supervise/rereviews/{task.pk}/resolve/", {"stands": "original", "note": "x"}
        )
        assert response.status_code == 403
