"""The supervisor's team page: exposure this shift and over a week, rotation, pauses,
certifications; pausing and lifting from it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import SensitivePause
from accounts.roles import Role
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide


def work(user, submit_report, category, n=1):
    for _ in range(n):
        submit_report(category=category)
        case = case_claim_next(user=user)
        case_decide(case_id=case.pk, user=user, action="no_violation", policy="harassment")


def lapse(certifications):
    certifications.update(
        granted_at=timezone.now() - timedelta(days=400),
        expires_at=timezone.now() - timedelta(days=1),
    )


@pytest.mark.django_db
class TestTeamPage:
    def test_it_shows_exposure_rotation_pauses_and_certifications(
        self, client, make_user, supervisor, submit_report
    ):
        busy, idle = make_user("busy"), make_user("idle")
        work(busy, submit_report, "csam", n=2)
        work(busy, submit_report, "spam")
        idle.certifications.update(
            granted_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(days=1),
        )
        client.force_login(supervisor)
        client.post(f"/supervise/team/{idle.pk}/pause/", {"hours": 4, "reason": "rest"})

        r = client.get("/supervise/team/")
        assert r.status_code == 200
        members = {m.user.username: m for m in r.context["members"]}
        assert set(members) >= {"busy", "idle", "sam"}
        b = members["busy"]
        assert (b.shift_sensitive, b.week_sensitive, b.shift_reveals) == (2, 2, 0)
        assert b.rotation == [("Child safety", 2, True), ("General", 1, False)]
        assert b.sensitive_share == 67
        assert members["idle"].pause.reason == "rest" and b.pause is None
        row = r.content.split(b'data-reviewer="idle"')[1].split(b"</tr>")[0]
        assert b"Paused until" in row and b"expired" in row

    def test_its_query_count_does_not_grow_with_the_team(
        self, client, make_user, supervisor, submit_report, django_assert_max_num_queries
    ):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client.force_login(supervisor)
        work(make_user("one"), submit_report, "csam")
        with CaptureQueriesContext(connection) as few:
            client.get("/supervise/team/")
        # Read now: every request clears the connection's query log.
        few = len(few)
        for i in range(6):
            user = make_user(f"r{i}")
            work(user, submit_report, "csam")
            work(user, submit_report, "spam")
            client.post(f"/supervise/team/{user.pk}/pause/", {"hours": 1}, follow=True)
        with django_assert_max_num_queries(few):
            r = client.get("/supervise/team/")
        assert len(r.context["members"]) == 8

    def test_it_takes_as_many_queries_for_ten_reviewers_as_for_three(
        self, client, make_user, supervisor, submit_report, django_assert_num_queries
    ):
        def join(first, last):
            for i in range(first, last):
                user = make_user(f"r{i}")
                work(user, submit_report, "csam")
                work(user, submit_report, "spam")
                # Every other one paused, every third one's certifications lapsed.
                if i % 2:
                    client.post(f"/supervise/team/{user.pk}/pause/", {"hours": 1, "reason": "x"})
                if i % 3 == 0:
                    lapse(user.certifications.all())

        client.force_login(supervisor)
        join(0, 3)
        # What is cached for a while is cached for both; the pauses' messages are shown (and
        # cleared from the session) before either is counted.
        client.get("/supervise/team/")
        with CaptureQueriesContext(connection) as three:
            r = client.get("/supervise/team/")
        assert len(r.context["members"]) == 3 + 1  # the supervisor reviews too
        three = len(three)  # read now: every request clears the connection's query log
        join(3, 10)
        client.get("/supervise/team/")  # shows (and so clears) the pauses' messages
        with django_assert_num_queries(three):
            r = client.get("/supervise/team/")
        assert len(r.context["members"]) == 10 + 1
        body = r.content.decode()
        assert body.count('<details class="team-more">') == 10 + 1
        assert body.count('data-testid="paused"') == 5

    def test_it_is_a_row_of_key_figures_per_reviewer_with_details_on_demand(
        self, client, make_user, supervisor, submit_report
    ):
        busy = make_user("busy")
        work(busy, submit_report, "csam", n=2)
        lapse(busy.certifications.filter(queue__slug="general"))
        client.force_login(supervisor)
        body = client.get("/supervise/team/").content.decode()
        row = body.split('data-reviewer="busy"')[1].split("</tr>")[0]
        figures, details = row.split('<details class="team-more">')
        # The row: figures, one line each; the certifications counted, the lapsed one flagged.
        assert '<td class="num decisions">2</td>' in figures
        assert '<td class="num exposure-shift">2</td>' in figures
        assert "expired</strong>" in figures and "Available" in figures
        assert "<form" not in figures  # the controls wait in the details
        # The details: exposure, queues, certifications, the pause form, their pages.
        assert '<summary>Details<span class="visually-hidden"> for busy</span></summary>' in details
        assert "0 reveals · 2 sensitive decisions" in details
        assert "Child safety 2" in details and "(100% sensitive)" in details
        assert f'action="/supervise/team/{busy.pk}/pause/"' in details
        assert f'<label class="small" for="reason-{busy.pk}">' in details
        assert f'href="/supervise/team/{busy.pk}/?days=30"' in details
        assert f'href="/audit/actor/{busy.pk}/"' in details

    def test_a_supervisor_pauses_and_lifts_a_pause(self, client, reviewer, supervisor):
        client.force_login(supervisor)
        r = client.post(
            f"/supervise/team/{reviewer.pk}/pause/", {"hours": 8, "reason": "x"}, follow=True
        )
        assert b"rita is paused from sensitive queues until" in r.content
        pause = SensitivePause.objects.get(user=reviewer)
        assert timedelta(hours=7, minutes=59) < pause.until - timezone.now() <= timedelta(hours=8)
        r = client.post(f"/supervise/team/{reviewer.pk}/resume/", follow=True)
        assert b"rita can work sensitive queues again" in r.content
        r = client.post(f"/supervise/team/{reviewer.pk}/resume/", follow=True)
        assert b"rita was not paused" in r.content

    def test_a_bad_duration_is_refused_without_a_pause(self, client, reviewer, supervisor):
        client.force_login(supervisor)
        r = client.post(f"/supervise/team/{reviewer.pk}/pause/", {"hours": "999"}, follow=True)
        assert b"Choose how long the pause lasts" in r.content
        assert not SensitivePause.objects.exists()
        assert client.post("/supervise/team/99999/pause/", {"hours": 1}).status_code == 404

    def test_reviewers_may_not_see_it(self, client, make_user):
        client.force_login(make_user("x", Role.SENIOR_REVIEWER))
        assert client.get("/supervise/team/").status_code == 403
