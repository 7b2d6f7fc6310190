import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case, Queue
from moderation.cases.services import CaseNotHeld, case_claim_next, case_release


@pytest.mark.django_db
class TestClaimNext:
    def test_it_claims_the_highest_priority_case_with_a_lease(self, reviewer, submit_report):
        submit_report(category="spam")
        urgent = submit_report(category="csam", involves_child=True).case
        submit_report(category="harassment")

        case = case_claim_next(user=reviewer)

        assert case.pk == urgent.pk
        assert case.assignee == reviewer
        assert case.lease_expires_at > timezone.now() + timedelta(minutes=10)
        event = AuditEvent.objects.get(verb="case.claimed")
        assert event.actor == reviewer and event.case_id == case.pk

    def test_it_takes_the_oldest_first_among_equal_priorities(self, reviewer, submit_report):
        first = submit_report(category="spam").case
        submit_report(category="spam")
        assert case_claim_next(user=reviewer).pk == first.pk

    def test_it_gives_back_the_case_already_held(self, reviewer, submit_report):
        submit_report(category="spam")
        submit_report(category="spam")
        first = case_claim_next(user=reviewer)
        assert case_claim_next(user=reviewer).pk == first.pk
        assert Case.objects.filter(assignee=reviewer).count() == 1

    def test_it_only_claims_from_certified_queues(self, make_user, submit_report):
        general = Queue.objects.get(slug="general")
        generalist = make_user("gina", Role.REVIEWER, queues=[general])
        submit_report(category="csam")
        assert case_claim_next(user=generalist) is None
        spam = submit_report(category="spam").case
        assert case_claim_next(user=generalist).pk == spam.pk

    def test_it_ignores_expired_certifications(self, make_user, submit_report):
        reviewer = make_user("ed", Role.REVIEWER)
        reviewer.certifications.update(
            granted_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(days=1),
        )
        submit_report(category="spam")
        assert case_claim_next(user=reviewer) is None

    def test_it_limits_to_the_chosen_queue(self, reviewer, submit_report):
        submit_report(category="csam")
        spam = submit_report(category="spam").case
        general = Queue.objects.get(slug="general")
        assert case_claim_next(user=reviewer, queue=general).pk == spam.pk

    def test_it_returns_none_when_nothing_is_waiting(self, reviewer):
        assert case_claim_next(user=reviewer) is None

    def test_two_reviewers_never_get_the_same_case(self, make_user, submit_report):
        a, b = make_user("a"), make_user("b")
        submit_report(category="spam")
        submit_report(category="spam")
        assert case_claim_next(user=a).pk != case_claim_next(user=b).pk

    def test_an_expired_lease_lets_another_reviewer_take_the_case(self, make_user, submit_report):
        a, b = make_user("a"), make_user("b")
        case = submit_report(category="spam").case
        case_claim_next(user=a)
        Case.objects.filter(pk=case.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        taken = case_claim_next(user=b)
        assert taken.pk == case.pk and taken.assignee == b
        assert AuditEvent.objects.filter(verb="case.claimed").latest("id").before == {
            "assignee": "a"
        }


@pytest.mark.django_db
class TestRelease:
    def test_it_returns_the_case_to_the_queue(self, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        case_release(case_id=case.pk, user=reviewer)
        case.refresh_from_db()
        assert case.assignee is None and case.lease_expires_at is None
        assert AuditEvent.objects.filter(verb="case.released", case=case).exists()

    def test_it_refuses_a_case_held_by_someone_else(self, make_user, submit_report):
        a, b = make_user("a"), make_user("b")
        submit_report()
        case = case_claim_next(user=a)
        with pytest.raises(CaseNotHeld):
            case_release(case_id=case.pk, user=b)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locking is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_hand_out_distinct_cases(make_user, submit_report):
    """Eight reviewers press "review next" at the same moment: eight different cases."""
    reviewers = [make_user(f"r{i}") for i in range(8)]
    for _ in range(8):
        submit_report(category="spam")
    barrier = threading.Barrier(len(reviewers))
    claimed, errors = [], []

    def claim(user):
        try:
            barrier.wait()
            case = case_claim_next(user=user)
            claimed.append(case.pk if case else None)
        except Exception as e:  # surfaced below
            errors.append(e)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=claim, args=(u,)) for u in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert None not in claimed
    assert len(set(claimed)) == 8
    assert Case.objects.filter(assignee__isnull=False).count() == 8


@pytest.mark.django_db
class TestReviewFindings:
    def test_a_plain_reviewer_certified_for_senior_review_still_cannot_claim_there(
        self, make_user, submit_report
    ):
        from moderation.review.services import case_decide

        senior_queue = Queue.objects.get(slug="senior-review")
        first = make_user("first")
        plain = make_user("plain", Role.REVIEWER, queues=[senior_queue])
        submit_report()
        case = case_claim_next(user=first)
        case_decide(case_id=case.pk, user=first, action="senior_review", policy="harassment")
        assert case_claim_next(user=plain) is None
        senior = make_user("sen", Role.SENIOR_REVIEWER, queues=[senior_queue])
        assert case_claim_next(user=senior).pk == case.pk

    def test_a_case_in_senior_review_cannot_be_sent_there_again(self, make_user, submit_report):
        from django.core.exceptions import ValidationError

        from moderation.review.services import case_decide

        first = make_user("first")
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        submit_report()
        case = case_claim_next(user=first)
        case_decide(case_id=case.pk, user=first, action="senior_review", policy="harassment")
        assert case_claim_next(user=senior).pk == case.pk
        with pytest.raises(ValidationError, match="already in senior review"):
            case_decide(case_id=case.pk, user=senior, action="senior_review", policy="harassment")

    def test_skip_gives_the_reviewer_a_different_case_next(
        self, reviewer, make_user, submit_report
    ):
        submit_report(category="csam")
        submit_report(category="spam")
        top = case_claim_next(user=reviewer)
        case_release(case_id=top.pk, user=reviewer)
        assert case_claim_next(user=reviewer).pk != top.pk
        # Others still get the skipped case first.
        assert case_claim_next(user=make_user("other")).pk == top.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locking is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_one_reviewer_clicking_twice_at_once_holds_one_case(make_user, submit_report):
    reviewer = make_user("quick")
    for _ in range(4):
        submit_report(category="spam")
    barrier = threading.Barrier(4)
    claimed, errors = [], []

    def claim():
        try:
            barrier.wait()
            claimed.append(case_claim_next(user=reviewer).pk)
        except Exception as e:  # surfaced below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(set(claimed)) == 1
    assert Case.objects.filter(assignee=reviewer).count() == 1


@pytest.mark.django_db
def test_only_the_reviewers_own_recent_skip_keeps_a_case_from_them(make_user, submit_report):
    """An old skip of mine and a fresh skip by someone else do not add up to hiding the case."""
    from moderation.cases.models import CaseSkip

    me, other = make_user("me"), make_user("other")
    case = submit_report(category="spam").case
    long_ago = timezone.now() - timedelta(hours=2)
    CaseSkip.objects.create(case=case, user=me, skipped_at=long_ago)
    CaseSkip.objects.create(case=case, user=other, skipped_at=timezone.now())
    assert case_claim_next(user=me).pk == case.pk
