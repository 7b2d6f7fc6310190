"""Queues can require fields of every decision made in them (on top of the category's needs)."""

import pytest
from django.core.exceptions import ValidationError

from accounts.roles import Role
from moderation.cases.models import Queue
from moderation.cases.services import case_claim_next
from moderation.decisions.models import QualitySettings
from moderation.decisions.rules import decision_requirements
from moderation.review.rereview import rereview_claim_next, rereview_record
from moderation.review.services import case_decide
from tests.moderation.cases.test_routing import queue_form


@pytest.mark.django_db
class TestQueueRequirements:
    def test_it_asks_a_senior_reviewer_for_a_written_reason(self, make_user, submit_report):
        Queue.objects.filter(slug="senior-review").update(required_fields=["notes"])
        first = make_user("first")
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        submit_report(category="harassment")
        case = case_claim_next(user=first)
        # Sending a case up is a referral: the general queue asks for no reason.
        case_decide(case_id=case.pk, user=first, action="senior_review", policy="harassment")
        assert case_claim_next(user=senior).pk == case.pk
        with pytest.raises(ValidationError) as refused:
            case_decide(case_id=case.pk, user=senior, action="no_violation", policy="harassment")
        assert "written reason" in refused.value.message_dict["notes"][0]
        decision = case_decide(
            case_id=case.pk,
            user=senior,
            action="no_violation",
            policy="harassment",
            notes="Satire of a public figure; no target.",
        )
        assert decision.notes.startswith("Satire")

    def test_findings_only_need_what_the_queue_asks_of_findings(self):
        queue = Queue.objects.get(slug="general")
        queue.required_fields = ["intent"]
        need = decision_requirements
        assert need(category="spam", action="remove", queue=queue) == {"intent"}
        assert need(category="spam", action="no_violation", queue=queue) == set()
        assert need(category="spam", action="senior_review", queue=queue) == set()
        assert need(category="csam", action="remove", queue=queue) == {"intent", "classification"}

    def test_the_case_page_says_what_the_queue_asks_for(self, client, make_user, submit_report):
        queue = Queue.objects.get(slug="general")
        queue.required_fields = ["notes"]
        queue.save()
        reviewer = make_user("r")
        submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert "written reason (notes) with every decision" in page
        r = client.post(f"/cases/{case.pk}/decide/", {"action": "remove", "policy": "spam"})
        assert r.status_code == 400
        assert "add notes saying why" in r.content.decode()

    def test_a_re_review_meets_the_same_requirements(self, settings, make_user, submit_report):
        settings.REREVIEW_SAMPLING = True
        QualitySettings.objects.update(rereview_share=1)
        queue = Queue.objects.get(slug="general")
        queue.required_fields = ["notes"]
        queue.save()
        first, second = make_user("first"), make_user("second")
        submit_report(category="spam")
        case = case_claim_next(user=first)
        case_decide(case_id=case.pk, user=first, action="remove", policy="spam", notes="Scam.")
        task = rereview_claim_next(user=second)
        with pytest.raises(ValidationError) as refused:
            rereview_record(task_id=task.pk, user=second, action="remove", policy="spam")
        assert "notes" in refused.value.message_dict

    def test_an_admin_sets_them_on_the_queue(self, client, admin_user):
        client.force_login(admin_user)
        r = client.post(
            "/admin/moderation/queue/add/", queue_form(required_fields=["notes", "intent"])
        )
        assert r.status_code == 302, r.content.decode()[:2000]
        assert Queue.objects.get(slug="portuguese").required_fields == ["notes", "intent"]
