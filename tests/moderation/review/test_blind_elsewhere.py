"""A blind re-review stays blind off the case page: the owner's account page and the owner's
history on another case of theirs keep the first decision from the re-reviewer."""

import pytest

from accounts.roles import Role
from moderation.cases.services import case_claim_next
from moderation.decisions.models import ReReview
from moderation.review.rereview import rereview_claim_next
from moderation.review.services import case_decide


@pytest.fixture
def blind(make_user, submit_report):
    """Alice decided on the owner's post; Bob holds its re-review; another post of theirs is open."""
    alice, bob = make_user("alice", Role.REVIEWER), make_user("bob", Role.REVIEWER)
    submit_report(category="harassment", platform_id="post-1", owner_id="acct-7")
    decided = case_claim_next(user=alice)
    decision = case_decide(case_id=decided.pk, user=alice, action="remove", policy="harassment")
    ReReview.objects.create(decision=decision, case=decided, queue=decided.queue)
    assert rereview_claim_next(user=bob) is not None
    other = submit_report(category="spam", platform_id="post-2", owner_id="acct-7").case
    return alice, bob, decision, other


@pytest.mark.django_db
class TestBlindReReviewElsewhere:
    def test_it_keeps_the_decision_off_the_account_page(self, client, blind):
        alice, bob, decision, _ = blind
        client.force_login(bob)
        html = client.get("/platform-accounts/acct-7/").content.decode()
        assert f'data-decision="{decision.pk}"' not in html
        client.force_login(alice)  # not re-reviewing: sees it
        html = client.get("/platform-accounts/acct-7/").content.decode()
        assert f'data-decision="{decision.pk}"' in html

    def test_it_keeps_the_decision_out_of_the_owner_history_on_another_case(self, client, blind):
        _, bob, decision, other = blind
        client.force_login(bob)
        response = client.get(f"/cases/{other.pk}/")
        assert response.context["owner_history"] == (0, [])
        client.force_login(blind[0])
        assert client.get(f"/cases/{other.pk}/").context["owner_history"][0] == 1
