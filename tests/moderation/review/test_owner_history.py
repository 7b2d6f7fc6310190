"""The review screen shows what was decided on the same owner's other content."""

import pytest

from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide


def decide(user, action="warn"):
    case = case_claim_next(user=user)
    case_decide(case_id=case.pk, user=user, action=action, policy="harassment")
    return case


@pytest.mark.django_db
class TestOwnerHistory:
    def test_it_lists_decisions_on_the_owners_other_content(self, client, reviewer, submit_report):
        submit_report(platform_id="a1", owner_id="acct-7")
        earlier = decide(reviewer, action="remove")
        submit_report(platform_id="x1", owner_id="someone-else")
        decide(reviewer, action="suspend")
        current = submit_report(platform_id="a2", owner_id="acct-7").case
        client.force_login(reviewer)
        r = client.get(f"/cases/{current.pk}/")
        total, shown = r.context["owner_history"]
        assert total == 1 and [d.case_id for d in shown] == [earlier.pk]
        section = r.content.split(b'data-testid="owner-history"')[1].split(b"</section>")[0]
        assert b"Remove content" in section and f"Case {earlier.pk}".encode() in section
        assert b"Suspend account" not in section

    def test_it_bounds_the_list_and_says_how_many_there_are(self, client, reviewer, submit_report):
        for i in range(12):
            submit_report(platform_id=f"a{i}", owner_id="acct-7")
            decide(reviewer)
        current = submit_report(platform_id="now", owner_id="acct-7").case
        client.force_login(reviewer)
        r = client.get(f"/cases/{current.pk}/")
        total, shown = r.context["owner_history"]
        assert total == 12 and len(shown) == 10
        assert b"The owner's other decisions (12)" in r.content
        assert b"Showing the 10 most recent" in r.content

    def test_an_unknown_owner_has_no_history(self, client, reviewer, submit_report):
        submit_report(platform_id="a1")
        decide(reviewer)
        current = submit_report(platform_id="a2").case
        client.force_login(reviewer)
        r = client.get(f"/cases/{current.pk}/")
        assert r.context["owner_history"] == (0, [])
        assert b"owner's account is not known" in r.content
