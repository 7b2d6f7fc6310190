import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from moderation.cases.models import Queue
from moderation.cases.services import case_claim_next


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
        from django.core.cache import cache

        client.force_login(reviewer)
        for _ in range(3):
            submit_report(category="spam")
        cache.clear()  # both loads count afresh
        with CaptureQueriesContext(connection) as few:
            client.get("/review/")
        for i in range(30):
            submit_report(category=["spam", "csam", "harassment"][i % 3])
        cache.clear()
        with CaptureQueriesContext(connection) as many:
            client.get("/review/")
        assert len(many) == len(few)
        # 10, plus the reviewer's exposure this shift, their pause state and the navigation's
        # inbox (one query each).
        assert len(many) <= 13


@pytest.mark.django_db
class TestSharedCounts:
    def test_it_shares_counts_between_loads_for_a_few_seconds(
        self, client, reviewer, submit_report, settings
    ):
        settings.QUEUE_COUNTS_MAX_AGE = 60
        submit_report(category="spam")
        client.force_login(reviewer)
        first = client.get("/review/")
        submit_report(category="spam")
        with CaptureQueriesContext(connection) as queries:
            again = client.get("/review/")
        general = {q.slug: q for q in again.context["queues"]}["general"]
        assert general.open_count == 1  # the shared copy, not yet refreshed
        assert not any("GROUP BY" in q["sql"] and "waiting_since" in q["sql"] for q in queries)
        assert b"Open counts as of" in first.content

    def test_it_recounts_once_the_copy_is_older_than_the_limit(
        self, client, reviewer, submit_report, settings
    ):
        """The load that finds the copy stale is served it and recounts after its response has
        gone; the next load shows the new count."""
        from datetime import timedelta
        from unittest import mock

        from django.utils import timezone

        settings.QUEUE_COUNTS_MAX_AGE = 10
        submit_report(category="spam")
        client.force_login(reviewer)
        client.get("/review/")
        submit_report(category="spam")
        later = timezone.now() + timedelta(seconds=11)
        with mock.patch("moderation.cases.queue_stats.timezone.now", return_value=later):
            stale = client.get("/review/")
            fresh = client.get("/review/")
        assert {q.slug: q for q in stale.context["queues"]}["general"].open_count == 1
        assert {q.slug: q for q in fresh.context["queues"]}["general"].open_count == 2
        assert fresh.context["queues"][0].counts_taken_at == later

    def test_the_request_finding_the_copy_stale_recounts_after_its_response(
        self, reviewer, submit_report, settings
    ):
        """The recount is no part of the request: the view's queries hold no count; it runs when
        Django signals the response has gone."""
        from datetime import timedelta
        from unittest import mock

        from django.utils import timezone

        from moderation.cases import queue_stats
        from moderation.review.selectors import dashboard_queues
        from tests.moderation.cases.request_scope import one_request

        settings.QUEUE_COUNTS_MAX_AGE = 10
        submit_report(category="spam")
        queue_stats.queue_counts()
        submit_report(category="spam")
        later = timezone.now() + timedelta(seconds=11)

        def counting(queries):
            return [q for q in queries if "GROUP BY" in q["sql"] and "waiting_since" in q["sql"]]

        with (
            mock.patch("moderation.cases.queue_stats.timezone.now", return_value=later),
            CaptureQueriesContext(connection) as everything,
            one_request(),
            CaptureQueriesContext(connection) as during,
        ):
            queues = dashboard_queues(reviewer)
        assert {q.slug: q for q in queues}["general"].open_count == 1
        assert counting(during) == []
        assert len(counting(everything)) == 1  # when the request ended
        general = Queue.objects.get(slug="general").pk
        assert queue_stats.queue_counts().open_count(general) == 2

    def test_only_one_caller_recounts_while_others_serve_the_stale_copy(
        self, reviewer, submit_report, settings
    ):
        from datetime import timedelta
        from unittest import mock

        from django.core.cache import cache
        from django.utils import timezone

        from moderation.cases import queue_stats

        settings.QUEUE_COUNTS_MAX_AGE = 10
        submit_report(category="spam")
        stale = queue_stats.queue_counts()
        submit_report(category="spam")
        cache.add(queue_stats.LOCK_KEY, 1, timeout=30)  # another process is recounting
        later = timezone.now() + timedelta(seconds=11)
        with mock.patch("moderation.cases.queue_stats.timezone.now", return_value=later):
            assert queue_stats.queue_counts() == stale
        cache.delete(queue_stats.LOCK_KEY)
        with mock.patch("moderation.cases.queue_stats.timezone.now", return_value=later):
            general = Queue.objects.get(slug="general").pk
            assert queue_stats.queue_counts().open_count(general) == 2

    def test_with_nothing_shared_one_caller_counts_and_the_others_wait_for_it(
        self, reviewer, submit_report, settings
    ):
        """An emptied cache: while another process counts, a caller does not count the same rows
        again; it waits for the copy the other one shares."""
        import threading

        from django.core.cache import cache

        from moderation.cases import queue_stats

        submit_report(category="spam")
        theirs = queue_stats.queue_counts_compute()
        cache.clear()
        cache.add(queue_stats.LOCK_KEY, 1, timeout=30)  # another process is counting

        def they_finish():
            cache.set(queue_stats.CACHE_KEY, theirs)
            cache.delete(queue_stats.LOCK_KEY)

        finisher = threading.Timer(0.3, they_finish)
        finisher.start()
        with CaptureQueriesContext(connection) as queries:
            counts = queue_stats.queue_counts()
        finisher.join()
        assert counts == theirs
        assert queries.captured_queries == []

    def test_a_counter_that_died_is_taken_over(self, reviewer, submit_report, settings):
        from django.core.cache import cache

        from moderation.cases import queue_stats

        submit_report(category="spam")
        cache.clear()
        cache.add(queue_stats.LOCK_KEY, 1, timeout=1)  # its process died: the lock runs out
        general = Queue.objects.get(slug="general").pk
        assert queue_stats.queue_counts().open_count(general) == 1
        assert cache.get(queue_stats.LOCK_KEY) is None

    def test_claims_are_counted_live(self, client, reviewer, make_user, submit_report, settings):
        settings.QUEUE_COUNTS_MAX_AGE = 60
        submit_report(category="spam")
        client.force_login(reviewer)
        client.get("/review/")
        case_claim_next(user=make_user("other"))
        r = client.get("/review/")
        assert {q.slug: q for q in r.context["queues"]}["general"].claimed_count == 1


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
