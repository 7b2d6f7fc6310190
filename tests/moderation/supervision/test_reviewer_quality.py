"""Reviewer quality for supervisors: decisions in a period, median claim-to-decision time, blind
re-review agreement and appeals overturned, on the team page and a reviewer's own page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision
from moderation.review.appeals import appeal_open
from moderation.review.rereview import rereview_claim_next, rereview_open, rereview_record
from moderation.review.services import case_decide
from moderation.supervision.reviewer_stats import period_start, reviewer_quality


@pytest.fixture
def decide(submit_report):
    """`reviewer` claims and decides a new harassment case; `minutes` after the claim when given
    (the decision's time is moved; the audit record of the claim is left as it is)."""
    counter = iter(range(10_000))

    def make(reviewer, action="remove", minutes=None):
        submit_report(category="harassment", platform_id=f"post-{next(counter)}", owner_id="o-1")
        case = case_claim_next(user=reviewer)
        decision = case_decide(case_id=case.pk, user=reviewer, action=action, policy="harassment")
        if minutes is not None:
            claimed = AuditEvent.objects.filter(case=case, verb="case.claimed").latest("pk")
            decision.created_at = claimed.created_at + timedelta(minutes=minutes)
            Decision.objects.filter(pk=decision.pk).update(created_at=decision.created_at)
        return decision

    return make


def rereview(user, action):
    task = rereview_claim_next(user=user)
    return rereview_record(task_id=task.pk, user=user, action=action, policy="harassment")


@pytest.fixture
def history(make_user, decide):
    """rita: three decisions this month (2, 4 and 10 minutes after claiming), one 40 days ago;
    re-reviews agree with one, disagree with another, a third waits; the third's decision is
    overturned on appeal."""
    rita, otto = make_user("rita"), make_user("otto")
    old = decide(rita)
    Decision.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    d1, d2, d3 = (decide(rita, minutes=m) for m in (2, 10, 4))
    for d in (d1, d2, d3):
        rereview_open(decision=d, why="test")
    rereview(otto, "remove")  # d1: the same action
    rereview(otto, "no_violation")  # d2: another
    appeal_open(content_id=d3.case.content_item.platform_id, statement="no", actor_label="t")
    case = case_claim_next(user=otto)
    assert case.pk == d3.case_id
    case_decide(case_id=case.pk, user=otto, action="no_violation", policy="harassment")
    return rita, otto, (d1, d2, d3)


@pytest.mark.django_db
class TestReviewerQuality:
    def test_it_counts_the_periods_decisions_and_how_they_held_up(self, history):
        rita, otto, _ = history
        stats = reviewer_quality([rita.pk, otto.pk], period_start(30))
        q = stats[rita.pk]
        assert q.decisions == 3
        assert q.median_handling == timedelta(minutes=4) and q.median_minutes == 4.0
        assert (q.rereviewed, q.agreed, q.rereviews_waiting, q.agreement_rate) == (2, 1, 1, 50)
        assert (q.appealed, q.overturned) == (1, 1)
        # otto's appeal decision counts as his; nobody re-reviewed or appealed it.
        o = stats[otto.pk]
        assert o.decisions == 1 and o.median_handling is not None
        assert o.agreement_rate is None and o.overturned == 0

    def test_a_longer_period_takes_in_older_decisions(self, history):
        rita, _, _ = history
        assert reviewer_quality([rita.pk], period_start(90))[rita.pk].decisions == 4

    def test_a_decision_without_a_claim_of_theirs_has_no_handling_time(
        self, make_user, decide, submit_report
    ):
        rita, otto = make_user("rita"), make_user("otto")
        # otto claimed the case; rita's decision on it (as when applied from a cluster) was not
        # preceded by a claim of hers. Audit events are never edited, so build it this way.
        case = submit_report(category="spam").case
        assert case_claim_next(user=otto).pk == case.pk
        Decision.objects.create(case=case, reviewer=rita, action="remove", policy="spam")
        q = reviewer_quality([rita.pk], period_start(30))[rita.pk]
        assert q.decisions == 1 and q.median_handling is None
        decide(rita, minutes=6)
        assert reviewer_quality([rita.pk], period_start(30))[rita.pk].median_minutes == 6.0

    def test_the_team_page_shows_it_for_the_chosen_period(self, client, supervisor, history):
        client.force_login(supervisor)
        r = client.get("/supervise/team/")
        assert r.context["days"] == 30
        members = {m.user.username: m for m in r.context["members"]}
        assert members["rita"].quality.decisions == 3
        row = r.content.split(b'data-reviewer="rita"')[1].split(b"</tr>")[0]
        assert b"4.0 min" in row and b"50%" in row and b"1 of 2" in row
        assert b"of 1 appealed" in row
        r = client.get("/supervise/team/?days=90")
        assert {m.user.username: m for m in r.context["members"]}["rita"].quality.decisions == 4
        # A period not offered falls back to the default rather than failing.
        assert client.get("/supervise/team/?days=abc").context["days"] == 30
        assert client.get("/supervise/team/?days=5").context["days"] == 30

    def test_the_reviewer_page_shows_quality_decisions_and_certifications(
        self, client, supervisor, history
    ):
        rita, _, (d1, d2, d3) = history
        client.force_login(supervisor)
        r = client.get(f"/supervise/team/{rita.pk}/")
        assert r.status_code == 200
        assert r.context["member"].quality.overturned == 1
        shown = [d.pk for d in r.context["decisions"]]
        assert shown == [d2.pk, d3.pk, d1.pk]  # newest first; the 40-day-old one is out
        assert [d.handling_minutes for d in r.context["decisions"]] == [10.0, 4.0, 2.0]
        assert b"Overturned" in r.content and b"Disagreed" in r.content
        assert b'data-testid="certifications"' in r.content
        assert client.get("/supervise/team/99999/").status_code == 404

    def test_the_pages_take_a_fixed_number_of_queries(
        self, client, make_user, supervisor, decide, django_assert_max_num_queries
    ):
        client.force_login(supervisor)
        rita = make_user("rita")
        decide(rita)
        with CaptureQueriesContext(connection) as few_team:
            client.get("/supervise/team/")
        with CaptureQueriesContext(connection) as few_one:
            client.get(f"/supervise/team/{rita.pk}/")
        few_team, few_one = len(few_team), len(few_one)
        otto = make_user("otto")
        for i in range(5):
            user = make_user(f"r{i}")
            for _ in range(2):
                d = decide(user)
                rereview_open(decision=d, why="test")
            decide(rita)
        for _ in range(5):
            rereview(otto, "remove")
        for d in Decision.objects.filter(reviewer=rita)[:2]:
            rereview_open(decision=d, why="test")
        with django_assert_max_num_queries(few_team):
            r = client.get("/supervise/team/")
        assert len(r.context["members"]) == 8
        with django_assert_max_num_queries(few_one):
            r = client.get(f"/supervise/team/{rita.pk}/")
        assert len(r.context["decisions"]) == 6

    def test_reviewers_may_not_see_a_reviewers_page(self, client, make_user, reviewer):
        client.force_login(make_user("s", Role.SENIOR_REVIEWER))
        assert client.get(f"/supervise/team/{reviewer.pk}/").status_code == 403
