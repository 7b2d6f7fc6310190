"""Queue health: current counts, the hourly rollup, the charts, the live partial."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ExposureEvent
from moderation.cases import queue_stats
from moderation.cases.models import Case, Queue
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide
from moderation.supervision.charts import paired_bars as bar_chart
from moderation.supervision.models import QueueHour
from moderation.supervision.queue_health import (
    hour_floor,
    queue_health,
    queue_hours_recompute,
    queue_hours_refresh,
)

NOW = datetime(2026, 11, 20, 14, 25, 0, tzinfo=UTC)


def rollup():
    return sorted(QueueHour.objects.values_list("queue__slug", "hour", "arrivals", "decisions"))


@pytest.fixture
def general():
    return Queue.objects.get(slug="general")


@pytest.fixture
def frozen(monkeypatch):
    """The clock the shared counts read, fixed at NOW (they take their own `now`)."""
    monkeypatch.setattr(queue_stats.timezone, "now", lambda: NOW)
    return NOW


@pytest.mark.django_db
class TestCurrentCounts:
    def test_it_counts_open_claimed_and_oldest(self, frozen, general, reviewer, submit_report):
        cases = [submit_report(category="spam").case for _ in range(3)]
        Case.objects.filter(pk=cases[0].pk).update(waiting_since=NOW - timedelta(minutes=90))
        Case.objects.filter(pk=cases[1].pk).update(waiting_since=NOW - timedelta(minutes=30))
        Case.objects.filter(pk=cases[2].pk).update(
            status="decided", decided_at=NOW, waiting_since=NOW - timedelta(days=9)
        )
        claimed = case_claim_next(user=reviewer)
        assert claimed.queue_id == general.pk
        row = next(r for r in queue_health(now=timezone.now()).queues if r.queue == general)
        assert row.open == 2
        assert row.claimed == 1
        assert row.oldest_waiting == NOW - timedelta(minutes=90)

    def test_an_expired_lease_is_not_claimed(self, general, reviewer, submit_report):
        submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        Case.objects.filter(pk=case.pk).update(lease_expires_at=timezone.now() - timedelta(1))
        row = next(r for r in queue_health().queues if r.queue == general)
        assert row.claimed == 0

    def test_it_counts_an_sla_breach_only_past_the_sla(self, frozen, general, submit_report):
        general.sla_minutes = 60
        general.save()
        at, over, under = (submit_report(category="spam").case for _ in range(3))
        Case.objects.filter(pk=at.pk).update(waiting_since=NOW - timedelta(minutes=60))
        Case.objects.filter(pk=over.pk).update(
            waiting_since=NOW - timedelta(minutes=60, microseconds=1)
        )
        Case.objects.filter(pk=under.pk).update(waiting_since=NOW - timedelta(minutes=59))
        counts = queue_stats.queue_counts_compute()
        assert counts.open_count(general.pk) == 3
        assert counts.sla_breaches(general.pk) == 1

    def test_each_queue_has_its_own_sla(self, frozen, general, submit_report):
        Queue.objects.filter(slug="child-safety").update(sla_minutes=10)
        child = submit_report(category="csam").case
        adult = submit_report(category="spam").case
        for case in (child, adult):
            Case.objects.filter(pk=case.pk).update(waiting_since=NOW - timedelta(minutes=30))
        counts = queue_stats.queue_counts_compute()
        assert counts.sla_breaches(child.queue_id) == 1
        assert counts.sla_breaches(general.pk) == 0


def at_hour(case, when):
    Case.objects.filter(pk=case.pk).update(waiting_since=when, created_at=when)


@pytest.mark.django_db
class TestRollup:
    def test_it_counts_arrivals_and_decisions_per_queue_and_hour(
        self, general, reviewer, submit_report
    ):
        h = hour_floor(timezone.now())
        a, b, c = (submit_report(category="spam").case for _ in range(3))
        at_hour(a, h - timedelta(hours=2) + timedelta(minutes=5))
        at_hour(b, h - timedelta(hours=2) + timedelta(minutes=59, seconds=59))
        at_hour(c, h - timedelta(hours=1))
        decided = case_claim_next(user=reviewer)
        case_decide(case_id=decided.pk, user=reviewer, action="no_violation", policy="spam")
        ExposureEvent.objects.filter(kind="decision").update(at=h - timedelta(minutes=1))
        queue_hours_refresh()
        assert rollup() == [
            ("general", h - timedelta(hours=2), 2, 0),
            ("general", h - timedelta(hours=1), 1, 1),
        ]

    def test_it_counts_a_decision_in_the_queue_it_was_made_in(self, reviewer, submit_report):
        case = submit_report(category="spam").case
        case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="senior_review", policy="spam")
        case.refresh_from_db()
        assert case.queue.senior_only
        queue_hours_refresh()
        h = hour_floor(timezone.now())
        # Decided in general; waiting since now in senior review: that is its arrival there.
        assert rollup() == [("general", h, 0, 1), (case.queue.slug, h, 1, 0)]

    def test_running_it_twice_gives_the_same_rows(self, reviewer, submit_report):
        for _ in range(3):
            submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="remove", policy="spam")
        now = timezone.now()
        queue_hours_recompute(start=now - timedelta(days=2), end=now + timedelta(hours=1))
        first = rollup()
        queue_hours_recompute(start=now - timedelta(days=2), end=now + timedelta(hours=1))
        queue_hours_refresh()
        assert rollup() == first
        assert sum(r[2] for r in first) == 3

    def test_it_removes_an_hour_that_no_longer_has_anything(self, submit_report):
        case = submit_report(category="spam").case
        queue_hours_refresh()
        assert len(rollup()) == 1
        Case.objects.filter(pk=case.pk).update(waiting_since=timezone.now() - timedelta(days=5))
        queue_hours_refresh()
        assert rollup() == []

    def test_it_leaves_hours_outside_the_range_alone(self, general):
        old = hour_floor(timezone.now()) - timedelta(days=3)
        QueueHour.objects.create(queue=general, hour=old, arrivals=7, decisions=2)
        queue_hours_refresh()
        assert rollup() == [("general", old, 7, 2)]

    def test_the_command_fills_older_days(self, submit_report):
        case = submit_report(category="spam").case
        when = timezone.now() - timedelta(days=12)
        at_hour(case, when)
        queue_hours_refresh()
        assert rollup() == []
        out = io.StringIO()
        call_command("rollup_queue_hours", "--days", "30", stdout=out)
        assert rollup() == [("general", hour_floor(when), 1, 0)]
        assert out.getvalue().startswith("1 queue-hours")


@pytest.mark.django_db
class TestHealthFigures:
    def test_it_puts_the_rollup_into_24_hours_and_30_days(self, general):
        now = timezone.now()
        h = hour_floor(now)
        QueueHour.objects.create(queue=general, hour=h, arrivals=4, decisions=1)
        QueueHour.objects.create(queue=general, hour=h - timedelta(hours=23), arrivals=2)
        QueueHour.objects.create(queue=general, hour=h - timedelta(hours=24), arrivals=100)
        QueueHour.objects.create(queue=general, hour=h - timedelta(days=40), arrivals=1000)
        row = next(r for r in queue_health(now=now).queues if r.queue == general)
        assert len(row.hours) == 24
        assert row.hours[-1] == (h, 4, 1)
        assert row.hours[0] == (h - timedelta(hours=23), 2, 0)
        assert row.arrivals_per_hour == 6 / 24
        assert len(row.days) == 30
        assert row.days[-1][0] == h.date()
        assert sum(a for _, a, _ in row.days) == 106
        assert sum(d for _, _, d in row.days) == 1


class TestCharts:
    def test_it_scales_bars_to_the_busiest(self):
        chart = bar_chart(id="c", title="t", points=[("a", 2, 1), ("b", 4, 0)], every=1)
        assert chart.peak == 4
        assert chart.arrivals[1].height == 2 * chart.arrivals[0].height
        assert chart.arrivals[1].y + chart.arrivals[1].height == chart.baseline
        assert chart.decisions[1].height == 0
        assert "6 arrivals and 1 decisions" in chart.desc

    def test_it_labels_the_latest_point_and_every_nth_before_it(self):
        points = [(str(i), 0, 0) for i in range(30)]
        chart = bar_chart(id="c", title="t", points=points, every=7)
        assert [label for _, label in chart.ticks] == ["1", "8", "15", "22", "29"]
        assert 0 < chart.ticks[0][0] < chart.ticks[-1][0] < chart.width

    def test_it_draws_an_empty_period(self):
        chart = bar_chart(id="c", title="t", points=[("a", 0, 0)] * 24, every=6)
        assert chart.empty
        assert all(b.height == 0 for b in chart.arrivals)
        assert chart.desc == "No arrivals and no decisions in this period."


@pytest.mark.django_db
class TestPage:
    def test_it_shows_the_figures_and_charts(self, client, supervisor, submit_report, general):
        submit_report(category="spam")
        queue_hours_refresh()
        client.force_login(supervisor)
        r = client.get("/supervise/queues/")
        assert r.status_code == 200
        html = r.content.decode()
        assert 'hx-get="/supervise/queues/live/"' in html
        assert 'hx-trigger="every 30s"' in html
        assert '<tr data-queue="general">' in html
        assert '<td class="num" data-col="open">1</td>' in html
        assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
        assert "1 arrivals and 0 decisions" in html
        assert "<rect " in html
        assert "The figures as a table" in html
        assert "No arrivals or decisions" in html  # the other queues' empty charts
        assert 'href="/supervise/queues/"' in html  # in the nav

    def test_it_escapes_a_queue_name_in_the_charts(self, client, supervisor, general):
        general.name = "<script>x</script>"
        general.save()
        client.force_login(supervisor)
        html = client.get("/supervise/queues/").content.decode()
        assert "<script>x" not in html
        assert "&lt;script&gt;x&lt;/script&gt;: arrivals and decisions per hour" in html

    def test_it_draws_with_no_data_at_all(self, client, supervisor):
        client.force_login(supervisor)
        r = client.get("/supervise/queues/")
        assert r.status_code == 200
        html = r.content.decode()
        assert "<rect x=" not in html
        assert "No arrivals or decisions" in html

    def test_without_a_scheduler_the_page_rebuilds_the_recent_hours(
        self, client, supervisor, submit_report, settings
    ):
        settings.JOBS_EAGER = True
        submit_report(category="spam")
        client.force_login(supervisor)
        client.get("/supervise/queues/")
        assert [r[2] for r in rollup()] == [1]
        submit_report(category="spam")
        client.get("/supervise/queues/")
        assert [r[2] for r in rollup()] == [1]  # at most once a minute

    def test_with_a_scheduler_the_periodic_run_rebuilds_them(
        self, client, supervisor, submit_report, settings
    ):
        from moderation.periodic.services import waiting_refresh_run

        settings.JOBS_EAGER = False
        submit_report(category="spam")
        client.force_login(supervisor)
        client.get("/supervise/queues/")
        assert rollup() == []
        settings.JOBS_EAGER = True  # no RQ here: the run's scheduling steps do nothing
        waiting_refresh_run()
        assert [r[2] for r in rollup()] == [1]

    def test_the_live_partial_is_the_fragment_alone(self, client, supervisor, submit_report):
        submit_report(category="spam")
        client.force_login(supervisor)
        r = client.get("/supervise/queues/live/", HTTP_HX_REQUEST="true")
        assert r.status_code == 200
        html = r.content.decode()
        assert html.startswith('<div id="queue-health"')
        assert "<html" not in html
        assert 'hx-trigger="every 30s"' in html
        assert '<td class="num" data-col="open">1</td>' in html
        assert r["Cache-Control"].startswith("max-age=0")

    def test_reviewers_cannot_see_it(self, client, reviewer):
        client.force_login(reviewer)
        assert client.get("/supervise/queues/").status_code == 403
        assert client.get("/supervise/queues/live/").status_code == 403

    def test_its_query_count_does_not_grow_with_data(
        self, client, supervisor, reviewer, submit_report, django_assert_max_num_queries
    ):
        client.force_login(supervisor)

        def load():
            from django.core.cache import cache

            # Session and permissions (4), the embedded rebuild (savepoints, two counts, delete,
            # insert: 6), the shared counts (2) and the page's own reads (4).
            cache.clear()
            with django_assert_max_num_queries(16):
                assert client.get("/supervise/queues/live/").status_code == 200
            # Within the minute, with the shared counts fresh: the page's reads alone.
            with django_assert_max_num_queries(8):
                assert client.get("/supervise/queues/live/").status_code == 200

        load()
        for category in ["spam", "harassment", "spam", "harassment", "spam"]:
            submit_report(category=category)
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="remove", policy="spam")
        now = timezone.now()
        for i in range(48):
            QueueHour.objects.get_or_create(
                queue=Queue.objects.get(slug="general"),
                hour=hour_floor(now) - timedelta(days=2, hours=i),
                defaults={"arrivals": i},
            )
        load()
