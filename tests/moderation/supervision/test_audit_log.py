import pytest

from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide


@pytest.mark.django_db
class TestAuditLog:
    def test_it_lists_events_newest_first(self, client, reviewer, supervisor, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="warn", policy="harassment")
        client.force_login(supervisor)
        r = client.get("/audit/")
        assert r.status_code == 200
        verbs = [e.verb for e in r.context["page"].events]
        assert verbs == ["case.decided", "case.claimed", "report.received", "case.opened"]
        assert b"rita" in r.content

    def test_it_filters_by_verb_and_case(self, client, reviewer, supervisor, submit_report):
        first = submit_report().case
        submit_report()
        client.force_login(supervisor)
        r = client.get("/audit/", {"verb": "case.opened", "case": first.pk})
        assert [(e.verb, e.case_id) for e in r.context["page"].events] == [
            ("case.opened", first.pk)
        ]

    def test_it_explains_a_malformed_case_filter(self, client, supervisor, submit_report):
        submit_report()
        client.force_login(supervisor)
        r = client.get("/audit/", {"case": "abc", "page": "x"})
        assert r.status_code == 400
        assert b"Enter a whole number" in r.content


@pytest.mark.django_db
def test_a_non_ascii_digit_case_filter_is_a_400_not_a_500(client, supervisor):
    client.force_login(supervisor)
    assert client.get("/audit/", {"case": "²"}).status_code == 400


@pytest.mark.django_db
def test_a_nul_in_the_filters_is_a_400_not_a_500(client, supervisor):
    client.force_login(supervisor)
    assert client.get("/audit/", {"verb": "case.\x00decided"}).status_code == 400


@pytest.mark.django_db
def test_a_nul_in_the_queue_choice_is_a_404(client, reviewer):
    client.force_login(reviewer)
    assert client.post("/review/next/", {"queue": "general\x00"}).status_code == 404
