"""The supervisor's team page: exposure this shift and over a week, rotation, pauses,
certifications; pausing and lifting from it."""

from datetime import timedelta

import pytest
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
