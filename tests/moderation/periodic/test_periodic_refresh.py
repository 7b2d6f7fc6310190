"""Waiting time keeps counting: one chain of RQ scheduled jobs with Redis (never two, however often
it is (re)started), and a throttled refresh before "review next" in the embedded mode."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from moderation.cases.models import Case
from moderation.periodic import services as periodic
from tests.moderation.outbox.test_outbox import REDIS_SERVER, RedisServer, free_port

REVIEW_NEXT = "/review/next/"


@pytest.fixture
def rq_redis(settings):
    """Real Redis: REDIS_URL's database when set (emptied around each test by conftest),
    otherwise a redis-server of our own on a spare port."""
    if settings.REDIS_URL:
        settings.JOBS_EAGER = False
        yield
        return
    if not REDIS_SERVER:
        pytest.skip("needs REDIS_URL or redis-server")
    server = RedisServer(free_port())
    server.start()
    settings.JOBS_EAGER = False
    settings.REDIS_URL = f"redis://127.0.0.1:{server.port}/0"
    yield
    server.stop()


def scheduled_ids() -> list[str]:
    from rq.registry import ScheduledJobRegistry

    from lib.jobs import get_queue

    return sorted(ScheduledJobRegistry(queue=get_queue()).get_job_ids())


def refresh_ids() -> list[str]:
    return [i for i in scheduled_ids() if i.startswith(periodic.JOB_PREFIX)]


def make_stale(case, hours=5):
    then = timezone.now() - timedelta(hours=hours)
    Case.objects.filter(pk=case.pk).update(waiting_since=then, updated_at=then)


@pytest.mark.django_db
class TestWithRedis:
    def test_scheduling_again_and_again_leaves_one_job_per_slot(self, rq_redis):
        now = datetime(2026, 11, 22, 10, 1, tzinfo=UTC)
        first = periodic.waiting_refresh_schedule(now=now)
        # Other processes, restarts, relay passes: all within the same slot.
        for seconds in (0, 5, 120, 239):
            assert periodic.waiting_refresh_schedule(now=now + timedelta(seconds=seconds)) == first
        assert scheduled_ids() == [first]
        slot_start = datetime.fromtimestamp(
            int(first.removeprefix(periodic.JOB_PREFIX)) * periodic.PERIOD_SECONDS, UTC
        )
        assert slot_start == datetime(2026, 11, 22, 10, 5, tzinfo=UTC)

    def test_a_run_recomputes_stale_cases_and_schedules_exactly_the_next_one(
        self, rq_redis, submit_report
    ):
        from rq import SimpleWorker

        from lib.jobs import get_queue

        case = submit_report(category="spam").case
        make_stale(case)
        # A chain whose slot time has come (scheduled from ten minutes ago).
        due = periodic.waiting_refresh_schedule(
            now=datetime.now(UTC) - timedelta(seconds=2 * periodic.PERIOD_SECONDS)
        )
        queue = get_queue()
        # A worker started with --with-scheduler moves due jobs to the queue and runs them.
        SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=True)

        case.refresh_from_db()
        assert {"label": "waiting 5 h", "points": 25} in case.priority_breakdown
        nxt = f"{periodic.JOB_PREFIX}{periodic.next_slot(datetime.now(UTC))}"
        # (Each run also keeps the daily evidence purge scheduled: see test_evidence_purge_schedule.)
        assert refresh_ids() == [nxt] and nxt != due
        # The relay's pass (as after a restart) finds the chain there and adds nothing.
        call_command("relay_outbox", "--once", stdout=io.StringIO())
        assert refresh_ids() == [nxt]

    def test_a_chain_redis_lost_is_restarted_by_the_relay(self, rq_redis):
        from lib.jobs import get_queue

        periodic.waiting_refresh_schedule()
        get_queue().connection.flushdb()
        assert scheduled_ids() == []
        call_command("relay_outbox", "--once", stdout=io.StringIO())
        assert len(scheduled_ids()) == 1

    def test_review_next_leaves_the_refresh_to_the_scheduler(
        self, rq_redis, client, reviewer, submit_report
    ):
        case = submit_report(category="spam").case
        make_stale(case)
        client.force_login(reviewer)
        assert client.post(REVIEW_NEXT).status_code == 302
        case.refresh_from_db()
        assert case.priority == 20


@pytest.mark.django_db
class TestEmbedded:
    def test_review_next_refreshes_stale_cases_first_at_most_once_a_minute(
        self, settings, client, reviewer, submit_report
    ):
        settings.JOBS_EAGER = True
        older = submit_report(category="harassment").case
        newer = submit_report(category="spam").case
        # Spam that has waited 20 hours (20 + 100) outranks fresh harassment (100), but only once
        # its priority is brought up to date.
        make_stale(newer, hours=20)
        client.force_login(reviewer)
        r = client.post(REVIEW_NEXT)
        assert r.url == f"/cases/{newer.pk}/"
        newer.refresh_from_db()
        assert {"label": "waiting 20 h", "points": 100} in newer.priority_breakdown

        make_stale(older)
        client.post(f"/cases/{newer.pk}/skip/")
        client.post(REVIEW_NEXT)
        older.refresh_from_db()
        assert older.priority == 100  # throttled: not again this minute
        assert periodic.waiting_refresh_schedule() is None  # no scheduler without Redis
