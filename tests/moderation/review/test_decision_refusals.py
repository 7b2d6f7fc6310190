"""Decisions the console must refuse, each with a message that says what to do next: a stale
form, the same form sent twice, a lapsed lease, a lapsed or missing certification."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case, Queue
from moderation.cases.services import CaseNotHeld, case_claim_next
from moderation.decisions.models import Decision
from moderation.review.services import CaseChanged, case_decide, case_version


def decide_form(case, **extra):
    return {"action": "remove", "policy": "harassment", "seen": case_version(case), **extra}


@pytest.mark.django_db
class TestStaleForm:
    def test_it_refuses_a_decision_on_a_case_that_gained_a_report(
        self, client, reviewer, submit_report
    ):
        first = submit_report(platform_id="p1")
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        page = client.get(f"/cases/{case.pk}/")
        form = decide_form(page.context["case"])
        # Someone else reports the same post while the reviewer reads the first report.
        submit_report(platform_id="p1", description="they also sent me threats")
        assert Case.objects.get(pk=first.case_id).assignee == reviewer

        r = client.post(f"/cases/{case.pk}/decide/", form)

        assert r.status_code == 409
        assert b"changed while you had it open" in r.content
        assert b"they also sent me threats" in r.content  # the page shows what is new
        assert Decision.objects.count() == 0
        # The redrawn form carries the new version: sending it now records the decision.
        assert r.context["form"]["seen"].value() == case_version(Case.objects.get(pk=case.pk))
        assert r.context["form"]["action"].value() == "remove"  # the reviewer's choice is kept
        r = client.post(
            f"/cases/{case.pk}/decide/",
            {**form, "seen": case_version(case.__class__.objects.get(pk=case.pk))},
        )
        assert r.status_code == 302
        assert Decision.objects.count() == 1

    def test_waiting_time_alone_does_not_make_a_form_stale(self, reviewer, submit_report):
        from moderation.cases.rollup import case_refresh_priority

        submit_report()
        case = case_claim_next(user=reviewer)
        seen = case_version(case)
        locked = Case.objects.get(pk=case.pk)
        locked.waiting_since -= timedelta(hours=5)
        case_refresh_priority(case=locked)
        case_decide(case_id=case.pk, user=reviewer, action="warn", policy="harassment", seen=seen)
        assert Decision.objects.count() == 1

    def test_the_service_refuses_a_stale_version(self, reviewer, submit_report):
        submit_report(platform_id="p1")
        case = case_claim_next(user=reviewer)
        seen = case_version(case)
        submit_report(platform_id="p1")
        with pytest.raises(CaseChanged):
            case_decide(
                case_id=case.pk, user=reviewer, action="warn", policy="harassment", seen=seen
            )
        assert Decision.objects.count() == 0


@pytest.mark.django_db
class TestDoubleSubmission:
    def test_the_same_form_sent_twice_records_one_decision(self, client, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        form = decide_form(case)
        assert client.post(f"/cases/{case.pk}/decide/", form).status_code == 302
        r = client.post(f"/cases/{case.pk}/decide/", form, follow=True)
        assert b"You already recorded a decision on this case" in r.content
        assert Decision.objects.count() == 1
        assert AuditEvent.objects.filter(verb="case.decided").count() == 1

    def test_a_resent_senior_review_is_counted_once(self, client, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        form = decide_form(case, action="senior_review")
        client.post(f"/cases/{case.pk}/decide/", form)
        r = client.post(f"/cases/{case.pk}/decide/", form, follow=True)
        assert b"You already recorded a decision" in r.content
        assert Decision.objects.count() == 1

    def test_another_reviewers_decision_is_reported_as_such(self, make_user, submit_report):
        a, b = make_user("a"), make_user("b")
        submit_report()
        case = case_claim_next(user=a)
        case_decide(case_id=case.pk, user=a, action="warn", policy="harassment")
        with pytest.raises(CaseNotHeld, match="already been decided"):
            case_decide(case_id=case.pk, user=b, action="remove", policy="harassment")


@pytest.mark.django_db
class TestLapsedHold:
    def test_it_refuses_a_decision_after_the_lease_ran_out(self, client, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        Case.objects.filter(pk=case.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        client.force_login(reviewer)
        r = client.post(f"/cases/{case.pk}/decide/", decide_form(case), follow=True)
        assert b"Your hold on this case ran out" in r.content
        assert Decision.objects.count() == 0

    def test_it_refuses_a_decision_without_ever_holding_the_case(
        self, client, reviewer, submit_report
    ):
        case = submit_report().case
        client.force_login(reviewer)
        r = client.post(f"/cases/{case.pk}/decide/", decide_form(case), follow=True)
        assert b"no longer yours" in r.content
        assert Decision.objects.count() == 0


@pytest.mark.django_db
class TestCertification:
    def test_a_certification_that_expires_while_holding_refuses_the_decision(
        self, make_user, submit_report
    ):
        reviewer = make_user("ed")
        submit_report()
        case = case_claim_next(user=reviewer)
        reviewer.certifications.update(
            granted_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(minutes=1),
        )
        with pytest.raises(CaseNotHeld, match="no longer certified to work the General queue"):
            case_decide(case_id=case.pk, user=reviewer, action="warn", policy="harassment")
        assert Decision.objects.count() == 0

    def test_review_next_says_the_certification_expired(self, client, make_user, submit_report):
        reviewer = make_user("ed")
        reviewer.certifications.update(
            granted_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(days=1),
        )
        submit_report()
        client.force_login(reviewer)
        r = client.post("/review/next/", follow=True)
        assert b"Your certifications have expired" in r.content
        assert b"General (expired" in r.content
        assert Case.objects.filter(assignee=reviewer).count() == 0

    def test_review_next_tells_an_uncertified_reviewer(self, client, make_user, submit_report):
        reviewer = make_user("new", Role.REVIEWER, queues=[])
        submit_report()
        client.force_login(reviewer)
        r = client.post("/review/next/", follow=True)
        assert b"not certified for any queue" in r.content

    def test_an_uncertified_reviewer_cannot_decide_by_posting(
        self, client, make_user, submit_report
    ):
        holder = make_user("holder")
        outsider = make_user("out", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        submit_report(category="csam")
        case = case_claim_next(user=holder)
        client.force_login(outsider)
        r = client.post(f"/cases/{case.pk}/decide/", decide_form(case))
        assert r.status_code == 403
        assert Decision.objects.count() == 0
