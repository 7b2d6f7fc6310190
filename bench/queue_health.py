"""Queue health (/supervise/queues/) at a million cases: page timings, the rollup's cost, EXPLAIN.

Builds a throwaway PostgreSQL database (test_<name> of DATABASE_URL, dropped afterwards) with
`--cases` cases over ten routable queues, created over the last 30 days; all but `--open` of them
decided, each decision with its exposure row (where decisions per queue are counted from). Then:
fills the rollup for 30 days (`manage.py rollup_queue_hours`), times the periodic rebuild of the
recent hours, and loads the page through Django's test client as a supervisor: with the shared
counts fresh (what almost every poll sees) and with them recomputed on every load (one load per
QUEUE_COUNTS_MAX_AGE seconds pays for that, for everyone). Prints EXPLAIN ANALYZE of the queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench bench/queue_health.py \
        [--cases 1000000 --open 100000 --loads 200]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.claim import FILL_BATCH, QUEUES, _insert_rows  # noqa: E402
from bench.scratch import scratch_database  # noqa: E402

MINUTES_30_DAYS = 30 * 1440


def fill(total: int, open_cases: int, queue_ids: list[int], user_id: int) -> None:
    """`total` cases created over 30 days, the newest `open_cases` open, the rest decided a
    while after they arrived, each decision with its exposure row."""
    from moderation.cases.models import Case
    from reports.models import ContentItem

    ids = "ARRAY[" + ",".join(map(str, queue_ids)) + "]"
    # Case g arrived (total - g) * 30 days / total ago: the last `open_cases` are open.
    age = f"((%s - g) * {MINUTES_30_DAYS}.0 / %s) * interval '1 minute'"
    for start in range(0, total, FILL_BATCH):
        n = min(FILL_BATCH, total - start)
        _insert_rows(
            ContentItem,
            n,
            start,
            {"key": "'bench:' || g", "platform_id": "'bench-' || g"},
            "FROM generate_series(%s, %s) AS g",
        )
        arrived = f"(now() - {age.replace('%s', str(total))})"
        is_open = f"g >= {total - open_cases}"
        _insert_rows(
            Case,
            n,
            start,
            {
                "content_item_id": "ci.id",
                "queue_id": f"({ids})[1 + mod(g, {len(queue_ids)})]",
                "category": "'harassment'",
                "priority": "mod(g::bigint * 7919, 1000)",
                "status": f"CASE WHEN {is_open} THEN 'open' ELSE 'decided' END",
                "created_at": arrived,
                "waiting_since": arrived,
                "updated_at": arrived,
                "decided_at": f"CASE WHEN {is_open} THEN NULL "
                f"ELSE {arrived} + mod(g, 120) * interval '1 minute' END",
            },
            "FROM generate_series(%s, %s) AS g "
            "JOIN reports_contentitem ci ON ci.key = 'bench:' || g",
        )
        print(f"  {start + n:,} cases", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_exposureevent (user_id, kind, case_id, queue_id, sensitive, at) "
            "SELECT %s, 'decision', id, queue_id, false, decided_at FROM moderation_case "
            "WHERE status = 'decided'",
            [user_id],
        )
        cursor.execute("VACUUM ANALYZE")
    assert Case.objects.count() == total


def ms(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def explain(sql_and_params) -> str:
    sql, params = sql_and_params
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=200)
    args = parser.parse_args()

    from django.contrib.auth.models import Group
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db.models import Count
    from django.test import Client

    from accounts.models import User
    from moderation.cases.models import Case, Queue
    from moderation.supervision.models import QueueHour
    from moderation.supervision.queue_health import queue_hours_refresh

    with scratch_database():
        for i in range(QUEUES - Queue.objects.routable().count()):
            Queue.objects.create(slug=f"bench-{i}", name=f"Bench {i}", categories=["__none__"])
        queues = list(Queue.objects.routable())[:QUEUES]
        # Some queues with a tight SLA, so breaches are counted too.
        Queue.objects.filter(pk__in=[q.pk for q in queues[:3]]).update(sla_minutes=60)
        sup = User.objects.create_user("bench-supervisor")
        sup.groups.add(Group.objects.get(name="supervisor"))
        t = time.perf_counter()
        print(f"filling {args.cases:,} cases ...", file=sys.stderr)
        fill(args.cases, args.open, [q.pk for q in queues], sup.pk)
        fill_s = time.perf_counter() - t

        t = time.perf_counter()
        call_command("rollup_queue_hours", "--days", "30", stdout=sys.stderr)
        backfill_s = time.perf_counter() - t
        refresh = []
        for _ in range(10):
            t = time.perf_counter()
            queue_hours_refresh()
            refresh.append(time.perf_counter() - t)

        client = Client()
        client.force_login(sup)
        cache.set("vigil:queue-hours-refresh", 1, 3600)  # time the page, not the embedded rebuild
        for _ in range(5):
            assert client.get("/supervise/queues/live/").status_code == 200
        warm, cold = [], []
        for _ in range(args.loads):
            t = time.perf_counter()
            assert client.get("/supervise/queues/live/").status_code == 200
            warm.append(time.perf_counter() - t)
        for _ in range(max(args.loads // 10, 20)):
            cache.delete("vigil:queue-counts:v2")
            t = time.perf_counter()
            assert client.get("/supervise/queues/live/").status_code == 200
            cold.append(time.perf_counter() - t)
        full = []
        for _ in range(max(args.loads // 10, 20)):
            t = time.perf_counter()
            assert client.get("/supervise/queues/").status_code == 200
            full.append(time.perf_counter() - t)

        open_n = Case.objects.filter(status="open").count()
        print(
            f"database: postgresql; {args.cases:,} cases ({open_n:,} open) over {len(queues)} "
            f"queues and 30 days; {QueueHour.objects.count():,} rollup rows; "
            f"{os.cpu_count()} CPU cores; filled in {fill_s:.0f} s"
        )
        print(f"rollup_queue_hours --days 30 (backfill): {backfill_s:.2f} s")
        print(
            f"periodic rebuild of the last 3 hours: p50 {ms(refresh, 50):.1f} ms, "
            f"max {max(refresh) * 1000:.1f} ms"
        )
        for label, values in [
            ("live partial, counts fresh", warm),
            ("live partial, counts recomputed", cold),
            ("full page, counts fresh", full),
        ]:
            print(
                f"{label:34} p50 {ms(values, 50):7.1f} ms  p95 {ms(values, 95):7.1f} ms  "
                f"(n={len(values)})"
            )

        from moderation.supervision.queue_health import hour_floor

        now = timezone.now()
        h = hour_floor(now)
        print("\nEXPLAIN the shared counts (open, oldest, breaches):")
        from moderation.cases import queue_stats

        qs_sql = None
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            queue_stats.queue_counts_compute()
        qs_sql = ctx.captured_queries[-1]["sql"]
        print(explain((qs_sql, [])))
        print("\nEXPLAIN arrivals in the last 3 hours:")
        arrivals = (
            Case.objects.filter(waiting_since__gte=h - timedelta(hours=2))
            .values("queue_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        print(explain(arrivals.query.sql_with_params()))
        print("\nEXPLAIN live claims:")
        claims = (
            Case.objects.filter(status="open", assignee__isnull=False, lease_expires_at__gt=now)
            .values("queue_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        print(explain(claims.query.sql_with_params()))
        print("\nEXPLAIN the 30 days of rollup rows:")
        days = QueueHour.objects.filter(hour__gte=h - timedelta(days=30)).values("queue_id")
        print(explain(days.annotate(n=Count("id")).order_by().query.sql_with_params()))


if __name__ == "__main__":
    main()
