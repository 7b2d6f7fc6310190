"""The audit browser at millions of events: page timings per filter, and the query plans.

Fills the PostgreSQL database of DATABASE_URL (migrated; not dropped afterwards, so timings can be
taken again with `--no-fill`) with `--events` audit events over `--cases` cases and 50 reviewers,
then times /audit/ through Django's test client (middleware, session, template) for each filter,
first page and deep pages, and prints p50/p95 and the plan of each page query.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_audit_bench bench/audit_browser.py \
        [--events 5000000 --cases 100000 --rounds 30] [--no-fill]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench.claim import _insert_rows, fill  # noqa: E402

USERS = 50
BATCH = 500_000
VERBS = [
    "case.opened",
    "report.received",
    "case.claimed",
    "case.decided",
    "case.skipped",
    "case.released",
    "action.requested",
    "action.delivered",
    "media.hashed",
    "rereview.recorded",
]


def fill_events(total: int, users: list[int], cases: tuple[int, int]) -> None:
    from moderation.audit.models import AuditEvent

    have = AuditEvent.objects.count()
    first_case, ncases = cases
    users_sql = "ARRAY[" + ",".join(map(str, users)) + "]"
    verbs_sql = "ARRAY[" + ",".join(f"'{v}'" for v in VERBS) + "]"
    for start in range(have, total, BATCH):
        n = min(BATCH, total - start)
        # One event in ten is a view of a media file; time runs 100 ms per event up to now.
        _insert_rows(
            AuditEvent,
            n,
            start,
            {
                "actor_id": f"({users_sql})[1 + mod(g, {len(users)})]",
                "actor_label": f"'bench' || mod(g, {len(users)})",
                "verb": f"CASE WHEN mod(g, 10) = 0 THEN 'media.viewed' "
                f"ELSE ({verbs_sql})[1 + mod(g / 10, {len(VERBS)})] END",
                "object_type": "CASE WHEN mod(g, 10) = 0 THEN 'reports.media' "
                "ELSE 'moderation.case' END",
                "object_id": f"(mod(g::bigint * 7919, {ncases * 3}))::text",
                "case_id": f"{first_case} + mod(g::bigint * 104729, {ncases})",
                "after": """jsonb_build_object('status', 'decided', 'n', g)""",
                "ip": "'10.0.0.1'::inet",
                "created_at": f"now() - ({total} - g) * interval '100 milliseconds'",
            },
            "FROM generate_series(%s, %s) AS g",
        )
        print(f"  {start + n:,} audit events", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE moderation_auditevent")


def p(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-fill", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server.")

    from django.contrib.auth.models import Group
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from moderation.audit.models import AuditEvent
    from moderation.cases.models import Case, Queue

    users = []
    for i in range(USERS):
        user, _ = User.objects.get_or_create(username=f"bench{i}")
        user.groups.add(Group.objects.get(name="reviewer"))
        users.append(user.pk)
    sup, _ = User.objects.get_or_create(username="bench-supervisor")
    sup.groups.add(Group.objects.get(name="supervisor"))
    if not args.no_fill:
        fill(args.cases, [q.pk for q in Queue.objects.routable()])
        first = Case.objects.order_by("id").values_list("id", flat=True).first()
        fill_events(args.events, users, (first, args.cases))

    events = AuditEvent.objects
    top = events.order_by("-id").values_list("id", flat=True).first()
    mid = top // 2
    case_id = events.filter(id=mid).values_list("case_id", flat=True).get()
    viewed = (
        events.filter(id__lt=mid, verb="media.viewed")
        .order_by("-id")
        .values_list("object_id", flat=True)[0]
    )
    newest = events.get(id=top).created_at
    day = newest.replace(microsecond=0) - __import__("datetime").timedelta(days=2)
    fmt = "%Y-%m-%dT%H:%M"
    scenarios = {
        "no filter": {},
        "no filter, deep page": {"before": mid},
        "newer from deep page": {"after": mid},
        "actor": {"actor": "bench7"},
        "actor, deep page": {"actor": "bench7", "before": mid},
        "verb": {"verb": "case.decided"},
        "verb, deep page": {"verb": "case.decided", "before": mid},
        "case timeline": {"case": case_id},
        "object (who saw a file)": {
            "verb": "media.viewed",
            "object_type": "reports.media",
            "object_id": viewed,
        },
        "one hour, 2 days ago": {
            "from": day.strftime(fmt),
            "to": (day + __import__("datetime").timedelta(hours=1)).strftime(fmt),
        },
        "actor + verb": {"actor": "bench7", "verb": VERBS[5]},
        "actor + verb (none match)": {"actor": "bench7", "verb": "case.decided"},
        "verb + time": {"verb": "case.decided", "from": day.strftime(fmt)},
        "actor + verb + time (none)": {
            "actor": "bench7",
            "verb": "case.decided",
            "from": day.strftime(fmt),
        },
        "time, deep in range": {"to": day.strftime(fmt), "before": mid},
        "rare verb (none match)": {"verb": "no.such"},
    }
    client = Client()
    client.force_login(sup)
    print(
        f"database: postgresql; {AuditEvent.objects.count():,} audit events; "
        f"{os.cpu_count()} CPU cores; {args.rounds} requests per filter"
    )
    print(f"{'page':34}{'p50 ms':>8}{'p95 ms':>8}{'rows':>6}")
    plans = {}
    for name, params in scenarios.items():
        client.get("/audit/", params)  # warm up
        timings = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            response = client.get("/audit/", params)
            timings.append(time.perf_counter() - t)
            assert response.status_code == 200, (name, response.status_code)
        rows = response.content.count(b"data-event=")
        print(f"{name:34}{p(timings, 50):8.1f}{p(timings, 95):8.1f}{rows:6}")
        with CaptureQueriesContext(connection) as queries:
            client.get("/audit/", params)
        page_sql = [
            q["sql"] for q in queries.captured_queries if "moderation_auditevent" in q["sql"]
        ]
        plans[name] = page_sql
    if os.environ.get("PLANS"):
        with connection.cursor() as cursor:
            for name, sqls in plans.items():
                for sql in sqls:
                    if "RECURSIVE" in sql:
                        continue
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF) " + sql)
                    plan = "\n    ".join(r[0] for r in cursor.fetchall())
                    print(f"\n[{name}]\n    {plan}")


if __name__ == "__main__":
    main()
