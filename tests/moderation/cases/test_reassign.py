"""A supervisor reassigns a case: to a certified reviewer, or back to its queue."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.assignment import ReassignRefused, case_reassign
from moderation.cases.models import Case, Queue
from moderation.cases.services import case_claim_next, sensitive_pause
from moderation.review.services import case_decide


@pytest.mark.django_db
class TestReassignService:
    def test_it_gives_a_held_case_to_another_certified_reviewer(
        self, make_user, supervisor, submit_report
    ):
        a, b = make_user("a"), make_user("b")
        submit_report()
        case = case_claim_next(user=a)
        case_reassign(case_id=case.pk, by=supervisor, to=b)
        case.refresh_from_db()
        assert case.assignee == b and case.lease_is_live()
        event = AuditEvent.objects.get(verb="case.reassigned")
        assert event.actor == supervisor
        assert event.before == {"assignee": "a"} and event.after["assignee"] == "b"
        # The old holder can no longer decide; the new one can, and gets it from "review next".
        with pytest.raises(Exception, match="no longer yours"):
            case_decide(case_id=case.pk, user=a, action="warn", policy="harassment")
        assert case_claim_next(user=b).pk == case.pk
        case_decide(case_id=case.pk, user=b, action="warn", policy="harassment")

    def test_it_sends_a_case_back_to_the_queue(self, reviewer, supervisor, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        case_reassign(case_id=case.pk, by=supervisor, to=None)
        case.refresh_from_db()
        assert case.assignee is None and case.lease_expires_at is None
        assert AuditEvent.objects.get(verb="case.reassigned").after["assignee"] is None

    def test_it_refuses_a_reviewer_not_certified_for_the_queue(
        self, make_user, supervisor, submit_report
    ):
        generalist = make_user("gen", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        case = submit_report(category="csam").case
        with pytest.raises(ReassignRefused, match="no current certification for the Child"):
            case_reassign(case_id=case.pk, by=supervisor, to=generalist)
        case.refresh_from_db()
        assert case.assignee is None
        assert not AuditEvent.objects.filter(verb="case.reassigned").exists()

    def test_it_refuses_a_reviewer_whose_certification_expired(
        self, make_user, supervisor, submit_report
    ):
        lapsed = make_user("lapsed")
        lapsed.certifications.update(
            granted_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(days=1),
        )
        case = submit_report().case
        with pytest.raises(ReassignRefused, match="no current certification"):
            case_reassign(case_id=case.pk, by=supervisor, to=lapsed)

    def test_it_refuses_a_reviewer_paused_from_sensitive_queues(
        self, make_user, supervisor, submit_report
    ):
        tired = make_user("tired")
        sensitive_pause(
            user=tired, until=timezone.now() + timedelta(hours=2), reason="", by=supervisor
        )
        case = submit_report(category="csam").case
        with pytest.raises(ReassignRefused, match="paused from sensitive queues"):
            case_reassign(case_id=case.pk, by=supervisor, to=tired)

    def test_it_refuses_a_decided_case_and_a_non_supervisor(
        self, reviewer, make_user, supervisor, submit_report
    ):
        submit_report()
        case = case_claim_next(user=reviewer)
        with pytest.raises(PermissionDenied):
            case_reassign(case_id=case.pk, by=make_user("peer"), to=None)
        case_decide(case_id=case.pk, user=reviewer, action="warn", policy="harassment")
        with pytest.raises(ReassignRefused, match="already decided"):
            case_reassign(case_id=case.pk, by=supervisor, to=None)


@pytest.mark.django_db
class TestReassignView:
    def test_a_supervisor_reassigns_from_the_case_page(
        self, client, make_user, supervisor, submit_report
    ):
        a, b = make_user("a"), make_user("b")
        submit_report()
        case = case_claim_next(user=a)
        client.force_login(supervisor)
        page = client.get(f"/cases/{case.pk}/")
        assert b'data-testid="reassign"' in page.content
        assert {u.get_username() for u in page.context["reassign_candidates"]} >= {"a", "b"}
        r = client.post(f"/cases/{case.pk}/reassign/", {"to": b.pk}, follow=True)
        assert f"Case {case.pk} went to b.".encode() in r.content
        assert Case.objects.get(pk=case.pk).assignee == b

    def test_a_refusal_is_shown_and_nothing_changes(
        self, client, make_user, supervisor, submit_report
    ):
        generalist = make_user("gen", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        case = submit_report(category="csam").case
        client.force_login(supervisor)
        r = client.post(f"/cases/{case.pk}/reassign/", {"to": generalist.pk}, follow=True)
        assert b"gen has no current certification" in r.content
        assert Case.objects.get(pk=case.pk).assignee is None

    def test_a_reviewer_sees_no_reassign_form_and_may_not_post_it(
        self, client, reviewer, submit_report
    ):
        submit_report()
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        assert b'data-testid="reassign"' not in client.get(f"/cases/{case.pk}/").content
        assert client.post(f"/cases/{case.pk}/reassign/", {"to": ""}).status_code == 403

    def test_an_unknown_or_malformed_reviewer_is_a_404(self, client, supervisor, submit_report):
        case = submit_report().case
        client.force_login(supervisor)
        assert client.post(f"/cases/{case.pk}/reassign/", {"to": "99999"}).status_code == 404
        assert client.post(f"/cases/{case.pk}/reassign/", {"to": "x1"}).status_code == 404
