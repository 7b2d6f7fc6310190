"""Child-safety signals are never closed quietly: a known-material match or an A1-B2
classification routes the case to the child-safety queue whatever it was reported as, and a
reviewer's "No violation" or milder action sends it to senior review with the reason."""

import json

import pytest
from django.core.exceptions import ValidationError

from accounts.roles import Role
from accounts.services import api_token_create
from moderation.audit.models import AuditEvent
from moderation.banks.hashing import media_rematch
from moderation.banks.models import BankEntry
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from moderation.review import cluster_decisions
from moderation.review.services import CaseChanged, case_decide, case_version
from tests.api_helpers import auth
from tests.moderation.signals import known_bank, known_image, report_image


def reviewer_token(make_user) -> str:
    """A certified reviewer's API token (every queue)."""
    return api_token_create(user=make_user("rev", Role.REVIEWER), name="console")[1]


MILDER = ["no_violation", "remove", "age_restrict", "warn", "safety_notice", "suspend"]


@pytest.fixture
def known_case(submit_report):
    """Known material reported as harassment, hashed and matched as intake does it."""
    known_bank()
    report = report_image(submit_report, known_image(), platform_id="post-1", owner_id="acct-9")
    return Case.objects.get(pk=report.case_id)


@pytest.mark.django_db
class TestRouting:
    def test_it_sends_known_material_to_the_child_safety_queue_whatever_the_category(
        self, known_case
    ):
        assert known_case.category == "harassment"
        assert known_case.queue.slug == "child-safety-known"
        assert known_case.queue.sensitive

    def test_a_decision_classifying_the_material_moves_the_case_there_too(
        self, reviewer, submit_report
    ):
        report = submit_report(category="harassment", platform_id="post-2", owner_id="acct-2")
        case = case_claim_next(user=reviewer)
        assert case.queue.slug == "harassment-self-harm" or case.queue.slug == "general"
        case_decide(
            case_id=report.case_id,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="malicious",
            classification="B1",
        )
        case.refresh_from_db()
        assert case.status == "decided" and case.queue.slug == "child-safety-known"
        moved = AuditEvent.objects.get(verb="case.rerouted")
        assert moved.after["queue"] == "child-safety-known"
        assert moved.actor_label == "routing: classified A1–B2"


@pytest.mark.django_db
class TestGuard:
    @pytest.mark.parametrize("action", MILDER)
    def test_a_reviewers_milder_decision_goes_to_senior_review_with_the_reason(
        self, known_case, reviewer, action
    ):
        assert case_claim_next(user=reviewer).pk == known_case.pk
        decision = case_decide(
            case_id=known_case.pk, user=reviewer, action=action, policy="harassment"
        )
        assert decision.action == "senior_review"
        assert decision.proposed_action == action
        assert "matches known material" in decision.referral_reason
        assert "Known CSAM" in decision.referral_reason
        known_case.refresh_from_db()
        assert known_case.status == "open" and known_case.queue.slug == "senior-review"
        assert known_case.assignee is None
        # What the bank set going stays in force for the senior reviewer to see.
        assert set(EnforcementAction.objects.values_list("kind", "status")) == {
            ("remove_content", "pending"),
            ("suspend_account", "pending"),
        }
        assert Escalation.objects.get().status == "draft"
        event = AuditEvent.objects.get(verb="case.decided")
        assert event.after["action"] == "senior_review"
        assert event.after["proposed_action"] == action
        assert event.after["referral_reason"] == decision.referral_reason

    def test_escalation_closes_it(self, known_case, reviewer):
        case_claim_next(user=reviewer)
        decision = case_decide(
            case_id=known_case.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="malicious",
            classification="A2",
        )
        assert decision.action == "escalate" and not decision.proposed_action
        known_case.refresh_from_db()
        assert known_case.status == "decided"

    def test_a_senior_reviewers_decision_stands(self, known_case, make_user):
        senior = make_user("sonia", Role.SENIOR_REVIEWER)
        case_claim_next(user=senior)
        decision = case_decide(
            case_id=known_case.pk, user=senior, action="no_violation", policy="harassment"
        )
        assert decision.action == "no_violation"
        known_case.refresh_from_db()
        assert known_case.status == "decided"

    def test_a_senior_reviewers_no_violation_undoes_what_the_bank_asked(
        self, known_case, make_user, client
    ):
        senior = make_user("sonia", Role.SENIOR_REVIEWER)
        case_claim_next(user=senior)
        decision = case_decide(
            case_id=known_case.pk, user=senior, action="no_violation", policy="harassment"
        )
        assert set(EnforcementAction.objects.values_list("kind", "status")) == {
            ("remove_content", "reversed"),
            ("suspend_account", "reversed"),
        }
        reversal = AuditEvent.objects.filter(verb="action.reversed").first()
        assert reversal.actor == senior
        # The report to the authority is withdrawn by a person; its page says why to look.
        escalation = Escalation.objects.get()
        client.force_login(senior)
        page = client.get(f"/escalations/{escalation.pk}/").content.decode()
        assert 'data-testid="cleared"' in page
        assert decision.action == "no_violation"

    def test_a_senior_reviewers_removal_keeps_the_removal_and_undoes_the_rest(
        self, known_case, make_user
    ):
        senior = make_user("sonia", Role.SENIOR_REVIEWER)
        case_claim_next(user=senior)
        case_decide(case_id=known_case.pk, user=senior, action="remove", policy="harassment")
        assert set(EnforcementAction.objects.values_list("kind", "status")) == {
            ("remove_content", "pending"),
            ("suspend_account", "reversed"),
        }

    def test_an_earlier_classification_guards_the_case_on_appeal(
        self, reviewer, make_user, submit_report
    ):
        from moderation.review.appeals import appeal_open

        submit_report(category="csam", platform_id="post-3", owner_id="acct-3")
        case = case_claim_next(user=reviewer)
        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="non_malicious",
            classification="B2",
        )
        appeal_open(content_id="post-3", statement="It is art.", actor_label="t")
        other = make_user("otto")
        assert case_claim_next(user=other).pk == case.pk
        decision = case_decide(
            case_id=case.pk, user=other, action="no_violation", policy="harassment"
        )
        assert decision.action == "senior_review"
        assert "classified the material B2" in decision.referral_reason
        case.refresh_from_db()
        assert case.queue.slug == "senior-review"

    def test_without_a_senior_queue_the_reviewer_is_told_and_nothing_is_recorded(
        self, known_case, reviewer
    ):
        from moderation.cases.models import Queue

        Queue.objects.filter(senior_only=True).update(is_active=False)
        case_claim_next(user=reviewer)
        with pytest.raises(ValidationError) as e:
            case_decide(
                case_id=known_case.pk, user=reviewer, action="no_violation", policy="harassment"
            )
        assert "No senior-review queue is active" in e.value.message_dict["action"][0]
        assert not Decision.objects.exists()

    def test_a_cluster_decision_does_not_sweep_a_signalled_case_along(
        self, known_case, reviewer, submit_report
    ):
        # A copy of the same image in another case: the same cluster.
        report_image(submit_report, known_image(), platform_id="post-4", owner_id="acct-4")
        case_claim_next(user=reviewer)
        others = cluster_decisions.cluster_open_cases(case=known_case, user=reviewer)
        with pytest.raises(ValidationError) as e:
            cluster_decisions.cluster_decide(
                case_id=known_case.pk,
                user=reviewer,
                confirmed_case_ids={c.pk for c in others},
                action="no_violation",
                policy="harassment",
            )
        assert "Decide it on its own" in e.value.message_dict["action"][0]
        assert not Decision.objects.exists()


@pytest.mark.django_db
class TestCsamFinding:
    def test_a_safety_notice_alone_is_refused(self, reviewer, submit_report):
        submit_report(category="csam")
        case = case_claim_next(user=reviewer)
        with pytest.raises(ValidationError) as e:
            case_decide(
                case_id=case.pk,
                user=reviewer,
                action="safety_notice",
                policy="child-safety/sexual-exploitation",
                intent="non_malicious",
                classification="B2",
            )
        assert "Escalate to authority" in e.value.message_dict["action"][0]
        assert not Decision.objects.exists()

    @pytest.mark.parametrize("action", ["remove", "suspend", "warn", "age_restrict"])
    def test_removal_without_the_report_is_refused(self, reviewer, submit_report, action):
        submit_report(category="harassment")
        case = case_claim_next(user=reviewer)
        with pytest.raises(ValidationError):
            case_decide(
                case_id=case.pk,
                user=reviewer,
                action=action,
                policy="child-safety/sexual-exploitation",
                classification="A1",
                intent="malicious",
            )
        assert not Decision.objects.exists()

    def test_escalation_with_a_safety_notice_added_asks_for_all_three(
        self, reviewer, submit_report
    ):
        submit_report(category="csam", platform_id="post-5", owner_id="acct-5")
        case = case_claim_next(user=reviewer)
        decision = case_decide(
            case_id=case.pk,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="non_malicious",
            classification="B2",
            safety_notice=True,
        )
        assert decision.safety_notice
        assert set(decision.actions.values_list("kind", "target")) == {
            ("remove_content", "post-5"),
            ("suspend_account", "acct-5"),
            ("safety_notice", "acct-5"),
        }
        assert Escalation.objects.filter(cases=case).exists()

    @pytest.mark.parametrize("action", ["no_violation", "safety_notice", "senior_review"])
    def test_a_safety_notice_is_added_only_to_a_finding(self, reviewer, submit_report, action):
        submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        with pytest.raises(ValidationError) as e:
            case_decide(
                case_id=case.pk, user=reviewer, action=action, policy="spam", safety_notice=True
            )
        assert "safety_notice" in e.value.message_dict

    def test_no_violation_classifies_nothing(self, reviewer, submit_report):
        submit_report(category="csam")
        case = case_claim_next(user=reviewer)
        with pytest.raises(ValidationError) as e:
            case_decide(
                case_id=case.pk,
                user=reviewer,
                action="no_violation",
                policy="child-safety/sexual-exploitation",
                classification="B2",
            )
        assert "classification" in e.value.message_dict


@pytest.mark.django_db
class TestOnThePage:
    def test_the_page_says_so_before_the_reviewer_records_anything(
        self, client, known_case, reviewer
    ):
        case_claim_next(user=reviewer)
        client.force_login(reviewer)
        page = client.get(f"/cases/{known_case.pk}/").content.decode()
        assert 'data-testid="guard-notice"' in page
        assert "Only “Escalate to authority” closes it from here" in page
        assert "No violation → senior review" in page
        assert "Escalate to authority → senior review" not in page

    def test_a_senior_reviewer_sees_no_guard(self, client, known_case, make_user):
        senior = make_user("sonia", Role.SENIOR_REVIEWER)
        case_claim_next(user=senior)
        client.force_login(senior)
        page = client.get(f"/cases/{known_case.pk}/").content.decode()
        assert 'data-testid="guard-notice"' not in page
        assert "→ senior review" not in page

    def test_the_referral_is_said_and_shown_to_the_senior_reviewer(
        self, client, known_case, reviewer, make_user
    ):
        case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{known_case.pk}/decide/",
            {"action": "no_violation", "policy": "harassment"},
            follow=True,
        )
        assert "went to senior review" in r.content.decode()
        senior = make_user("sonia", Role.SENIOR_REVIEWER)
        client.force_login(senior)
        page = client.get(f"/cases/{known_case.pk}/").content.decode()
        assert 'data-testid="referral"' in page
        assert "Proposed <strong>No violation</strong>" in page

    def test_a_csam_finding_without_escalation_is_a_form_error(
        self, client, reviewer, submit_report
    ):
        submit_report(category="csam")
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{case.pk}/decide/",
            {
                "action": "safety_notice",
                "policy": "child-safety/sexual-exploitation",
                "intent": "non_malicious",
                "classification": "B2",
            },
        )
        assert r.status_code == 400
        assert "Escalate to authority" in r.content.decode()
        assert not Decision.objects.exists()

    def test_a_decision_posted_twice_is_recorded_once(self, client, reviewer, submit_report):
        submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        data = {"action": "remove", "policy": "spam"}
        first = client.post(f"/cases/{case.pk}/decide/", data)
        second = client.post(f"/cases/{case.pk}/decide/", data, follow=True)
        assert first.status_code == 302
        assert Decision.objects.count() == 1
        assert second.status_code == 200


@pytest.mark.django_db
class TestApi:
    def test_the_api_answers_with_the_referral(self, client, known_case, make_user):
        token = reviewer_token(make_user)
        claimed = client.post("/api/v1/queues/child-safety-known/claim", **auth(token))
        assert claimed.json()["case"]["id"] == known_case.pk
        r = client.post(
            f"/api/v1/cases/{known_case.pk}/decision",
            data=json.dumps({"action": "no_violation", "policy": "harassment"}),
            content_type="application/json",
            **auth(token),
        )
        assert r.status_code == 201
        body = r.json()
        assert body["action"] == "senior_review" and body["proposed_action"] == "no_violation"
        assert "known material" in body["referral_reason"]

    def test_the_api_refuses_a_safety_notice_alone_on_csam(self, client, make_user, submit_report):
        submit_report(category="csam")
        token = reviewer_token(make_user)
        case_id = client.post("/api/v1/queues/child-safety/claim", **auth(token)).json()["case"][
            "id"
        ]
        r = client.post(
            f"/api/v1/cases/{case_id}/decision",
            data=json.dumps(
                {
                    "action": "safety_notice",
                    "policy": "child-safety/sexual-exploitation",
                    "intent": "non_malicious",
                    "classification": "B2",
                }
            ),
            content_type="application/json",
            **auth(token),
        )
        assert r.status_code == 422
        assert r.json()["error"] == "invalid_decision"
        assert "Escalate to authority" in r.json()["detail"]["action"][0]


@pytest.mark.django_db
def test_a_bank_match_arriving_mid_review_refuses_the_decision_as_changed(reviewer, submit_report):
    report = report_image(submit_report, known_image(), platform_id="post-6", owner_id="acct-6")
    case = case_claim_next(user=reviewer)
    assert case.pk == report.case_id
    seen = case_version(case)
    # The list that names the image arrives while the reviewer looks at it.
    bank = known_bank()
    media_rematch(entry_ids=list(BankEntry.objects.filter(bank=bank).values_list("pk", flat=True)))
    with pytest.raises(CaseChanged):
        case_decide(
            case_id=case.pk, user=reviewer, action="no_violation", policy="harassment", seen=seen
        )
    assert not Decision.objects.exists()
