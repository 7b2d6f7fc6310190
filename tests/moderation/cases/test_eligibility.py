"""A reviewer's certifications and pause are read once per request, and never kept longer
(moderation/cases/eligibility.py)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from moderation.cases.models import Queue
from moderation.cases.services import case_claim_next, claimable_queue_ids, sensitive_pause
from tests.moderation.cases.request_scope import one_request


def _certification_reads(queries) -> int:
    return sum('FROM "accounts_queuecertification"' in q["sql"] for q in queries)


@pytest.mark.django_db
class TestOncePerRequest:
    def test_questions_asked_in_one_request_read_once(self, reviewer, submit_report):
        from moderation.cases.access import user_may_view_case

        case = submit_report(category="spam").case
        with one_request(), CaptureQueriesContext(connection) as queries:
            assert case.queue_id in claimable_queue_ids(reviewer)
            assert user_may_view_case(reviewer, case)
            assert case_claim_next(user=reviewer).pk == case.pk
        assert _certification_reads(queries) == 1

    def test_review_next_with_nothing_waiting_reads_them_once(self, client, reviewer):
        """It claims nothing, then asks whether the reviewer has any queue, to say why."""
        client.force_login(reviewer)
        with CaptureQueriesContext(connection) as queries:
            r = client.post("/review/next/", follow=False)
        assert r.status_code == 302
        assert _certification_reads(queries) == 1

    def test_a_withdrawn_certification_counts_from_the_next_request(self, client, reviewer):
        client.force_login(reviewer)
        listed = [q.slug for q in client.get("/review/").context["queues"]]
        assert "general" in listed
        reviewer.certifications.filter(queue__slug="general").delete()
        listed = [q.slug for q in client.get("/review/").context["queues"]]
        assert "general" not in listed

    def test_outside_a_request_nothing_is_kept(self, reviewer):
        general = Queue.objects.get(slug="general")
        assert general.pk in claimable_queue_ids(reviewer)
        # An update, as a bulk change would be: no signal; still read afresh.
        reviewer.certifications.filter(queue=general).update(
            granted_at=timezone.now() - timedelta(days=2),
            expires_at=timezone.now() - timedelta(days=1),
        )
        assert general.pk not in claimable_queue_ids(reviewer)

    def test_a_pause_set_during_the_request_counts_for_the_rest_of_it(self, reviewer, supervisor):
        sensitive = set(Queue.objects.filter(sensitive=True).values_list("pk", flat=True))
        with one_request():
            assert sensitive <= set(claimable_queue_ids(reviewer))
            sensitive_pause(
                user=reviewer, until=timezone.now() + timedelta(hours=1), reason="", by=supervisor
            )
            assert not sensitive & set(claimable_queue_ids(reviewer))

    def test_the_reading_answers_for_any_later_moment_of_the_request(self, reviewer):
        """Kept for the request, a certification still ends when it ends."""
        general = Queue.objects.get(slug="general")
        now = timezone.now()
        reviewer.certifications.filter(queue=general).update(expires_at=now + timedelta(minutes=1))
        with one_request(), CaptureQueriesContext(connection) as queries:
            assert general.pk in claimable_queue_ids(reviewer, now)
            later = now + timedelta(minutes=2)
            assert general.pk not in claimable_queue_ids(reviewer, later)
            # An earlier moment than the reading's is read afresh, not guessed.
            assert general.pk in claimable_queue_ids(reviewer, now - timedelta(seconds=1))
        assert _certification_reads(queries) == 2
