from datetime import timedelta

import pytest
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case, Queue
from moderation.cases.services import (
    CaseNotHeld,
    OwnDecisionAppealed,
    case_claim_next,
    case_release,
)
from moderation.decisions.models import Appeal, Decision
from moderation.enforcement.models import EnforcementAction
from moderation.review.appeals import AppealRefused, appeal_open
from moderation.review.services import case_decide


@pytest.fixture
def decided(submit_report):
    """A harassment case about content "post-7" owned by "owner-1", decided by `reviewer`."""

    def make(reviewer, action="suspend", content_id="post-7"):
        submit_report(category="harassment", platform_id=content_id, owner_id="owner-1")
        case = case_claim_next(user=reviewer)
        decision = case_decide(case_id=case.pk, user=reviewer, action=action, policy="harassment")
        case.refresh_from_db()
        return case, decision

    return make


def appeal(content_id="post-7", statement="It was a joke between friends."):
    return appeal_open(content_id=content_id, statement=statement, actor_label="api token t")


@pytest.mark.django_db
class TestAppealOpen:
    def test_it_reopens_the_case_into_the_appeals_queue(self, reviewer, decided):
        case, decision = decided(reviewer)
        filed, created = appeal()
        assert created
        case.refresh_from_db()
        assert case.status == Case.Status.OPEN and case.decided_at is None
        assert case.queue.for_appeals and case.queue.slug == "appeals"
        assert filed.decision == decision and filed.status == Appeal.Status.OPEN
        verbs = list(AuditEvent.objects.filter(case=case).values_list("verb", flat=True))
        assert "appeal.opened" in verbs and "case.reopened" in verbs

    def test_it_returns_the_open_appeal_when_sent_again(self, reviewer, decided):
        decided(reviewer)
        first, _ = appeal()
        again, created = appeal(statement="different words")
        assert not created and again.pk == first.pk
        assert Appeal.objects.count() == 1

    def test_it_refuses_unknown_content_and_content_with_nothing_to_appeal(
        self, reviewer, decided, submit_report
    ):
        with pytest.raises(AppealRefused) as e:
            appeal(content_id="never-seen")
        assert e.value.status == 404
        submit_report(category="spam", platform_id="open-one")
        with pytest.raises(AppealRefused) as e:
            appeal(content_id="open-one")
        assert (e.value.status, e.value.code) == (409, "under_review")
        decided(reviewer, action="no_violation", content_id="fine-one")
        with pytest.raises(AppealRefused) as e:
            appeal(content_id="fine-one")
        assert (e.value.status, e.value.code) == (409, "nothing_to_appeal")

    def test_it_refuses_a_second_appeal_of_a_decided_appeal(self, make_user, decided):
        first, other = make_user("first"), make_user("other")
        case, _ = decided(first)
        appeal()
        case_claim_next(user=other)
        case_decide(case_id=case.pk, user=other, action="suspend", policy="harassment")
        with pytest.raises(AppealRefused) as e:
            appeal()
        assert (e.value.status, e.value.code) == (409, "already_appealed")

    def test_reports_arriving_during_the_appeal_never_move_it_out(
        self, reviewer, decided, submit_report
    ):
        case, _ = decided(reviewer)
        appeal()
        # A more severe category and a child: routing would send it to child safety.
        submit_report(category="grooming", involves_child=True, platform_id="post-7")
        case.refresh_from_db()
        assert case.queue.slug == "appeals" and case.category == "grooming"

    def test_routing_never_puts_a_case_into_the_appeals_queue(self, submit_report):
        # Even with rules that would match everything, first in order.
        Queue.objects.filter(for_appeals=True).update(categories=[], order=0)
        report = submit_report(category="spam")
        assert report.case.queue.slug == "general"


@pytest.mark.django_db
class TestAppealReview:
    def test_the_original_reviewer_cannot_claim_it(self, make_user, decided):
        original = make_user("original")
        case, _ = decided(original)
        appeal()
        assert case_claim_next(user=original) is None

    def test_a_reviewer_who_sent_it_to_senior_review_cannot_claim_it_either(
        self, make_user, submit_report
    ):
        from accounts.roles import Role

        junior, senior = make_user("junior"), make_user("senior", Role.SENIOR_REVIEWER)
        submit_report(category="harassment", platform_id="post-7", owner_id="owner-1")
        case = case_claim_next(user=junior)
        case_decide(case_id=case.pk, user=junior, action="senior_review", policy="harassment")
        assert case_claim_next(user=senior).pk == case.pk
        case_decide(case_id=case.pk, user=senior, action="remove", policy="harassment")
        appeal()
        assert case_claim_next(user=junior) is None
        assert case_claim_next(user=senior) is None

    def test_the_original_reviewer_cannot_decide_it_even_holding_it(self, make_user, decided):
        original = make_user("original")
        case, _ = decided(original)
        appeal()
        # Reached by URL after someone handed it over: the service still refuses.
        Case.objects.filter(pk=case.pk).update(
            assignee=original, lease_expires_at=timezone.now() + timedelta(minutes=5)
        )
        with pytest.raises(OwnDecisionAppealed, match="another reviewer must decide"):
            case_decide(case_id=case.pk, user=original, action="no_violation", policy="harassment")
        assert Appeal.objects.get().status == Appeal.Status.OPEN
        assert Decision.objects.count() == 1
        # They can hand it back.
        case_release(case_id=case.pk, user=original)

    def test_another_certified_reviewer_upholds_it(self, make_user, decided):
        original, other = make_user("original"), make_user("other")
        case, decision = decided(original)
        pending = set(EnforcementAction.objects.values_list("pk", "status"))
        appeal()
        assert case_claim_next(user=other).pk == case.pk
        outcome = case_decide(
            case_id=case.pk, user=other, action="suspend", policy="harassment", notes="stands"
        )
        filed = Appeal.objects.get()
        assert filed.status == Appeal.Status.UPHELD
        assert filed.outcome == outcome and filed.decided_by == other
        case.refresh_from_db()
        assert case.status == Case.Status.DECIDED
        # Nothing new asked of the platform, nothing reversed.
        assert set(EnforcementAction.objects.values_list("pk", "status")) == pending
        assert AuditEvent.objects.get(verb="appeal.decided").after["status"] == "upheld"

    def test_a_milder_outcome_reverses_what_it_no_longer_asks(self, make_user, decided):
        original, other = make_user("original"), make_user("other")
        case, decision = decided(original, action="suspend")
        kinds = set(decision.actions.values_list("kind", flat=True))
        assert kinds == {"remove_content", "suspend_account"}
        appeal()
        case_claim_next(user=other)
        outcome = case_decide(case_id=case.pk, user=other, action="remove", policy="harassment")
        assert Appeal.objects.get().status == Appeal.Status.MILDER
        by_kind = {a.kind: a for a in decision.actions.all()}
        # The suspension is reversed; the removal both decisions ask for stays as it was.
        assert by_kind["suspend_account"].status == EnforcementAction.Status.REVERSED
        assert by_kind["remove_content"].status == EnforcementAction.Status.PENDING
        assert not outcome.actions.exists()
        reversed_event = AuditEvent.objects.get(verb="action.reversed")
        assert reversed_event.object_id == str(by_kind["suspend_account"].pk)
        assert reversed_event.actor == other

    def test_overturning_to_no_violation_reverses_everything(self, make_user, decided):
        original, other = make_user("original"), make_user("other")
        case, decision = decided(original, action="suspend")
        appeal()
        case_claim_next(user=other)
        case_decide(case_id=case.pk, user=other, action="no_violation", policy="harassment")
        statuses = set(decision.actions.values_list("status", flat=True))
        assert statuses == {EnforcementAction.Status.REVERSED}
        assert AuditEvent.objects.filter(verb="action.reversed").count() == 2

    def test_overturning_says_so_in_the_status(self, make_user, decided):
        original, other = make_user("original"), make_user("other")
        case, _ = decided(original, action="suspend")
        appeal()
        case_claim_next(user=other)
        case_decide(case_id=case.pk, user=other, action="no_violation", policy="harassment")
        assert Appeal.objects.get().status == Appeal.Status.OVERTURNED
        assert AuditEvent.objects.get(verb="appeal.decided").after["status"] == "overturned"

    def test_a_stricter_outcome_keeps_what_was_asked_and_adds_the_rest(self, make_user, decided):
        original, other = make_user("original"), make_user("other")
        case, decision = decided(original, action="warn")
        appeal()
        case_claim_next(user=other)
        outcome = case_decide(case_id=case.pk, user=other, action="suspend", policy="harassment")
        assert Appeal.objects.get().status == Appeal.Status.STRICTER
        # Only a milder outcome reverses anything at the platform.
        assert not AuditEvent.objects.filter(verb="action.reversed").exists()
        assert set(decision.actions.values_list("kind", "status")) == {("warn", "pending")}
        assert set(outcome.actions.values_list("kind", flat=True)) == {
            "remove_content",
            "suspend_account",
        }

    @pytest.mark.parametrize(
        "contested,outcome,status",
        [
            ("suspend", "suspend", "upheld"),
            ("suspend", "no_violation", "overturned"),
            ("suspend", "warn", "milder"),
            ("remove", "age_restrict", "milder"),
            ("warn", "remove", "stricter"),
            ("safety_notice", "escalate", "stricter"),
        ],
    )
    def test_the_status_follows_the_order_of_severity(self, contested, outcome, status):
        from moderation.review.appeals import appeal_outcome

        assert appeal_outcome(contested=contested, outcome=outcome) == status

    def test_an_appeal_case_is_not_swept_into_a_cluster_decision(
        self, make_user, decided, submit_report, png_upload
    ):
        from moderation.banks.models import Cluster
        from moderation.review.cluster_decisions import cluster_open_cases
        from reports.models import Media

        original, other = make_user("original"), make_user("other")
        submit_report(category="harassment", platform_id="post-7", images=[png_upload()])
        case = case_claim_next(user=original)
        case_decide(case_id=case.pk, user=original, action="remove", policy="harassment")
        appeal()
        sibling = submit_report(category="harassment", images=[png_upload("b.png", (1, 2, 3))])
        Media.objects.update(cluster=Cluster.objects.create())
        # From the sibling's side, the appeal is not offered for a cluster decision.
        Case.objects.filter(pk=sibling.case_id).update(
            assignee=other, lease_expires_at=timezone.now() + timedelta(minutes=5)
        )
        sibling_case = Case.objects.get(pk=sibling.case_id)
        assert cluster_open_cases(case=sibling_case, user=other) == []
        # Once decided, it would be: the exclusion is about the open appeal.
        Appeal.objects.update(
            status="upheld", decided_at=timezone.now(), outcome=Decision.objects.first()
        )
        assert [c.pk for c in cluster_open_cases(case=sibling_case, user=other)] == [case.pk]

    def test_a_new_report_after_the_appeal_routes_the_case_afresh(
        self, make_user, decided, submit_report
    ):
        original, other = make_user("original"), make_user("other")
        case, _ = decided(original)
        appeal()
        case_claim_next(user=other)
        case_decide(case_id=case.pk, user=other, action="suspend", policy="harassment")
        submit_report(category="grooming", involves_child=True, platform_id="post-7")
        case.refresh_from_db()
        assert case.status == "open" and case.queue.slug == "child-safety"

    def test_a_lost_hold_is_still_refused_as_before(self, make_user, decided):
        original, other, third = make_user("original"), make_user("other"), make_user("third")
        case, _ = decided(original)
        appeal()
        case_claim_next(user=other)
        with pytest.raises(CaseNotHeld, match="no longer yours"):
            case_decide(case_id=case.pk, user=third, action="remove", policy="harassment")


@pytest.mark.django_db
class TestAppealPage:
    def test_it_shows_the_appeal_and_an_uphold_button_to_another_reviewer(
        self, client, make_user, decided
    ):
        original, other = make_user("original"), make_user("other")
        case, _ = decided(original)
        appeal(statement="It was a joke between friends.")
        case_claim_next(user=other)
        client.force_login(other)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert "It was a joke between friends." in page
        assert 'data-testid="uphold"' in page
        response = client.post(
            f"/cases/{case.pk}/decide/",
            {"action": "suspend", "policy": "harassment", "notes": "stands"},
        )
        assert response.status_code == 302
        assert Appeal.objects.get().status == Appeal.Status.UPHELD

    def test_the_original_reviewer_is_told_clearly(self, client, make_user, decided):
        original = make_user("original")
        case, _ = decided(original)
        appeal()
        Case.objects.filter(pk=case.pk).update(
            assignee=original, lease_expires_at=timezone.now() + timedelta(minutes=5)
        )
        client.force_login(original)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert "another reviewer must decide this case" in page
        assert 'data-testid="uphold"' not in page
        response = client.post(
            f"/cases/{case.pk}/decide/", {"action": "no_violation", "policy": "harassment"}
        )
        assert response.status_code == 302
        followed = client.get(response.url).content.decode()
        assert "appeal against a decision you took part in" in followed
        assert Appeal.objects.get().status == Appeal.Status.OPEN
