import pytest
from django.core.exceptions import ValidationError

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.cases.services import CaseNotHeld, case_claim_next
from moderation.decisions.models import Decision
from moderation.review.services import case_decide


@pytest.mark.django_db
class TestDecide:
    def test_it_records_the_decision_and_closes_the_case(self, reviewer, submit_report):
        submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        decision = case_decide(
            case_id=case.pk, user=reviewer, action="remove", policy="spam", notes="scam link"
        )
        case.refresh_from_db()
        assert case.status == Case.Status.DECIDED
        assert case.decided_at == decision.created_at
        assert case.assignee is None
        event = AuditEvent.objects.get(verb="case.decided")
        assert event.actor == reviewer
        assert event.before["status"] == "open"
        assert event.after["action"] == "remove" and event.after["status"] == "decided"

    def test_it_requires_intent_and_classification_for_child_safety_findings(
        self, reviewer, submit_report
    ):
        submit_report(category="csam", involves_child=True)
        case = case_claim_next(user=reviewer)
        with pytest.raises(ValidationError) as e:
            case_decide(
                case_id=case.pk,
                user=reviewer,
                action="remove",
                policy="child-safety/sexual-exploitation",
            )
        assert set(e.value.message_dict) == {"intent", "classification"}
        assert Decision.objects.count() == 0
        case.refresh_from_db()
        assert case.status == "open" and case.assignee == reviewer

        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="non_malicious",
            classification="B2",
        )
        assert Decision.objects.get().classification == "B2"

    def test_no_violation_needs_no_classification(self, reviewer, submit_report):
        submit_report(category="csam")
        case = case_claim_next(user=reviewer)
        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="no_violation",
            policy="child-safety/sexual-exploitation",
        )
        assert Decision.objects.count() == 1

    def test_it_refuses_a_case_the_reviewer_no_longer_holds(self, make_user, submit_report):
        a, b = make_user("a"), make_user("b")
        submit_report()
        case = case_claim_next(user=a)
        Case.objects.filter(pk=case.pk).update(assignee=b)
        with pytest.raises(CaseNotHeld, match="no longer yours"):
            case_decide(case_id=case.pk, user=a, action="remove", policy="harassment")
        assert Decision.objects.count() == 0

    def test_it_refuses_a_second_decision(self, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="warn", policy="harassment")
        with pytest.raises(CaseNotHeld, match="already recorded a decision"):
            case_decide(case_id=case.pk, user=reviewer, action="remove", policy="harassment")

    def test_senior_review_moves_the_case_to_the_senior_queue_open(self, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="senior_review", policy="harassment")
        case.refresh_from_db()
        assert (
            case.status == "open" and case.queue.slug == "senior-review" and case.assignee is None
        )


@pytest.mark.django_db
class TestDecisionsRequestActions:
    def decide(self, reviewer, submit_report, action, **kwargs):
        submit_report(category="harassment", platform_id="post-5", owner_id="acct-5")
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action=action, policy="harassment", **kwargs)
        return case

    @pytest.mark.parametrize(
        "action, expected",
        [
            ("no_violation", set()),
            ("remove", {("remove_content", "post-5")}),
            ("age_restrict", {("age_restrict", "post-5")}),
            ("warn", {("warn", "acct-5")}),
            ("safety_notice", {("safety_notice", "acct-5")}),
            ("suspend", {("remove_content", "post-5"), ("suspend_account", "acct-5")}),
            ("senior_review", set()),
        ],
    )
    def test_each_decision_asks_for_its_actions(self, reviewer, submit_report, action, expected):
        from moderation.enforcement.models import EnforcementAction

        case = self.decide(reviewer, submit_report, action)
        actions = EnforcementAction.objects.filter(case=case)
        assert set(actions.values_list("kind", "target")) == expected
        assert all(a.status == "pending" and a.decision.reviewer == reviewer for a in actions)

    def test_escalating_opens_the_owners_escalation(self, reviewer, submit_report):
        from moderation.escalations.models import Escalation

        case = self.decide(reviewer, submit_report, "escalate")
        escalation = Escalation.objects.get()
        assert escalation.owner_id == "acct-5" and escalation.opened_by == reviewer
        assert list(escalation.cases.all()) == [case]
        assert AuditEvent.objects.filter(verb="escalation.opened", actor=reviewer).exists()
