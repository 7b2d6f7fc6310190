import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from moderation.models import Queue
from moderation.services import case_claim_next


@pytest.mark.django_db
class TestDashboard:
    def test_it_lists_the_reviewers_queues_with_counts(self, client, reviewer, submit_report):
        submit_report(category="csam")
        submit_report(category="csam")
        submit_report(category="spam")
        case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = client.get("/review/")
        assert r.status_code == 200
        queues = {q.slug: q for q in r.context["queues"]}
        assert queues["child-safety"].open_count == 2
        assert queues["child-safety"].claimed_count == 1
        assert queues["general"].open_count == 1
        assert queues["general"].oldest_waiting is not None
        assert queues["self-reports"].open_count == 0
        assert b"You are holding" in r.content

    def test_it_shows_only_certified_queues(self, client, make_user):
        user = make_user("g", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        client.force_login(user)
        r = client.get("/review/")
        assert [q.slug for q in r.context["queues"]] == ["general"]

    def test_it_explains_when_the_reviewer_has_no_certification(self, client, make_user):
        client.force_login(make_user("new", Role.REVIEWER, queues=[]))
        r = client.get("/review/")
        assert b"not certified for any queue" in r.content

    def test_its_query_count_does_not_grow_with_cases(self, client, reviewer, submit_report):
        client.force_login(reviewer)
        for _ in range(3):
            submit_report(category="spam")
        with CaptureQueriesContext(connection) as few:
            client.get("/review/")
        for i in range(30):
            submit_report(category=["spam", "csam", "harassment"][i % 3])
        with CaptureQueriesContext(connection) as many:
            client.get("/review/")
        assert len(many) == len(few)
        assert len(many) <= 10


@pytest.mark.django_db
class TestReviewNext:
    def test_it_claims_and_opens_the_case(self, client, reviewer, submit_report):
        case = submit_report(category="csam").case
        client.force_login(reviewer)
        r = client.post("/review/next/")
        assert r.status_code == 302 and r.url == f"/cases/{case.pk}/"
        case.refresh_from_db()
        assert case.assignee == reviewer

    def test_it_says_so_when_nothing_is_waiting(self, client, reviewer):
        client.force_login(reviewer)
        r = client.post("/review/next/", follow=True)
        assert b"Nothing is waiting" in r.content

    def test_it_takes_a_queue(self, client, reviewer, submit_report):
        submit_report(category="csam")
        spam = submit_report(category="spam").case
        client.force_login(reviewer)
        r = client.post("/review/next/", {"queue": "general"})
        assert r.url == f"/cases/{spam.pk}/"

    def test_it_404s_for_an_unknown_queue(self, client, reviewer):
        client.force_login(reviewer)
        assert client.post("/review/next/", {"queue": "nope"}).status_code == 404

    def test_it_refuses_get(self, client, reviewer):
        client.force_login(reviewer)
        assert client.get("/review/next/").status_code == 405
