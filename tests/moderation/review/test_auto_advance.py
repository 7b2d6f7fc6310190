"""Auto-advance (a reviewer's preference): after a decision or a skip, the next case opens."""

import pytest

from accounts.wellness import preferences_update
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next


@pytest.fixture
def advancing(reviewer):
    preferences_update(user=reviewer, blur_px=16, greyscale=True, auto_advance=True)
    return reviewer


def decide(client, case):
    return client.post(f"/cases/{case.pk}/decide/", {"action": "remove", "policy": "spam"})


@pytest.mark.django_db
class TestAutoAdvance:
    def test_a_decision_opens_the_next_case_claimed(self, client, advancing, submit_report):
        submit_report(category="spam")
        submit_report(category="spam")
        first = case_claim_next(user=advancing)
        client.force_login(advancing)
        r = decide(client, first)
        following = Case.objects.get(assignee=advancing)
        assert following.pk != first.pk
        assert r.status_code == 302 and r.url == f"/cases/{following.pk}/"

    def test_a_skip_opens_another_case(self, client, advancing, submit_report):
        submit_report(category="spam")
        submit_report(category="spam")
        first = case_claim_next(user=advancing)
        client.force_login(advancing)
        r = client.post(f"/cases/{first.pk}/skip/")
        following = Case.objects.get(assignee=advancing)
        assert following.pk != first.pk and r.url == f"/cases/{following.pk}/"

    def test_with_nothing_left_it_returns_to_the_queues_saying_so(
        self, client, advancing, submit_report
    ):
        submit_report(category="spam")
        only = case_claim_next(user=advancing)
        client.force_login(advancing)
        r = client.post(
            f"/cases/{only.pk}/decide/", {"action": "remove", "policy": "spam"}, follow=True
        )
        assert r.redirect_chain[-1][0] == "/review/"
        assert b"Nothing else is waiting in your queues" in r.content

    def test_without_the_preference_a_decision_returns_to_the_queues(
        self, client, reviewer, submit_report
    ):
        submit_report(category="spam")
        submit_report(category="spam")
        first = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = decide(client, first)
        assert r.url == "/review/"
        assert not Case.objects.filter(assignee=reviewer).exists()
