"""Review next, the dashboard and the review screen at a million open cases, eight reviewers at once.

Builds a throwaway PostgreSQL database (test_<name> of DATABASE_URL, dropped afterwards), fills it
with open cases spread over ten queues, first `--small` then `--large` of them, and at each size
runs eight reviewer processes that each claim (timed at the service: "review next" and the API's
claim call both are this one call), open the review screen, decide and come back to the dashboard
(timed through Django's test client: middleware, session, template), as reviewers do. Prints p50/p95 per size side by side with the ratio (flat means
the indexes do their job) and checks that no case was handed to two reviewers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench bench/claim.py \
        [--small 10000 --large 1000000 --reviewers 8 --rounds 150]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.scratch import scratch_database  # noqa: E402

QUEUES = 10
FILL_BATCH = 100_000


def _insert_rows(model, count: int, start: int, varying: dict[str, str], source: str) -> None:
    """INSERT ... SELECT `count` rows of `model`: `varying` columns as SQL over `g` (and `ci`),
    every other column at the model field's default, so new fields need no change here."""
    proto = model()
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in varying:
            values.append(varying[field.column])
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(getattr(proto, field.attname), connection))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, start, start + count - 1])


def fill(total: int, queue_ids: list[int]) -> None:
    """Bring the number of open cases up to `total`, spread over the queues and priorities."""
    from moderation.cases.models import Case
    from reports.models import ContentItem

    have = Case.objects.count()
    for start in range(have, total, FILL_BATCH):
        n = min(FILL_BATCH, total - start)
        _insert_rows(
            ContentItem,
            n,
            start,
            {"key": "'bench:' || g", "platform_id": "'bench-' || g"},
            "FROM generate_series(%s, %s) AS g",
        )
        ids = "ARRAY[" + ",".join(map(str, queue_ids)) + "]"
        _insert_rows(
            Case,
            n,
            start,
            {
                "content_item_id": "ci.id",
                "queue_id": f"({ids})[1 + mod(g, {len(queue_ids)})]",
                "category": "'harassment'",
                "priority": "mod(g::bigint * 7919, 1000)",
                "waiting_since": "now() - mod(g, 1440) * interval '1 minute'",
            },
            "FROM generate_series(%s, %s) AS g "
            "JOIN reports_contentitem ci ON ci.key = 'bench:' || g",
        )
        print(f"  {start + n:,} open cases", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def reviewer_process(username: str, rounds: int, out: str) -> None:
    """One reviewer: review next, look at the case, decide, back to the dashboard; `rounds` times."""
    from django.test import Client

    from accounts.models import User
    from moderation.cases.services import case_claim_next

    client = Client()
    client.force_login(User.objects.get(username=username))
    timings = {"claim": [], "review screen": [], "dashboard": []}
    claimed = []
    user = User.objects.get(username=username)
    for _ in range(rounds):
        # The claim itself (the service "review next" and the API's claim call), then the pages
        # as the reviewer's browser loads them.
        t = time.perf_counter()
        case = case_claim_next(user=user)
        timings["claim"].append(time.perf_counter() - t)
        case_id = case.pk
        claimed.append(case_id)
        url = f"/cases/{case_id}/"
        t = time.perf_counter()
        page = client.get(url)
        timings["review screen"].append(time.perf_counter() - t)
        assert page.status_code == 200
        decided = client.post(
            f"/cases/{case_id}/decide/",
            {"action": "no_violation", "policy": "harassment", "notes": "bench"},
        )
        assert decided.status_code == 302, decided.content[:500]
        t = time.perf_counter()
        assert client.get("/review/").status_code == 200
        timings["dashboard"].append(time.perf_counter() - t)
    Path(out).write_text(json.dumps({"timings": timings, "claimed": claimed}))


def run_reviewers(usernames: list[str], rounds: int, workdir: Path) -> dict:
    env = {**os.environ, "DATABASE_URL": _database_url()}
    outs = [workdir / f"{u}.json" for u in usernames]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--reviewer", u, "--rounds", str(rounds), "--out", str(o)],
            env=env,
        )
        for u, o in zip(usernames, outs, strict=True)
    ]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit("a reviewer process failed")
    merged = {"timings": {}, "claimed": []}
    for out in outs:
        data = json.loads(out.read_text())
        merged["claimed"] += data["claimed"]
        for what, values in data["timings"].items():
            merged["timings"].setdefault(what, []).extend(values)
    return merged


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def double_assignments() -> int:
    """Cases that more than one reviewer claimed or decided (each case here is decided once)."""
    from django.db.models import Count

    from moderation.audit.models import AuditEvent
    from moderation.decisions.models import Decision

    claimed_twice = (
        AuditEvent.objects.filter(verb="case.claimed")
        .values("case_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    decided_twice = (
        Decision.objects.values("case_id").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    return claimed_twice + decided_twice


def p(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--reviewers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=150, help="cases per reviewer per size")
    parser.add_argument("--reviewer", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reviewer:
        return reviewer_process(args.reviewer, args.rounds, args.out)
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server: this measures its row locking.")

    import tempfile
    from datetime import timedelta

    from django.contrib.auth.models import Group

    from accounts.models import QueueCertification, User
    from moderation.cases.models import Queue

    with scratch_database():
        # Queues that routing fills (not senior review or appeals, reached by people's actions).
        for i in range(QUEUES - Queue.objects.routable().count()):
            Queue.objects.create(slug=f"bench-{i}", name=f"Bench {i}", categories=["__none__"])
        queues = list(Queue.objects.routable())[:QUEUES]
        names = [f"bench{i}" for i in range(args.reviewers)]
        for name in names:
            user = User.objects.create_user(name)
            user.groups.add(Group.objects.get(name="reviewer"))
            for q in queues:
                QueueCertification.objects.create(
                    user=user, queue=q, expires_at=timezone.now() + timedelta(days=1)
                )

        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for size in (args.small, args.large):
                print(f"filling to {size:,} open cases ...", file=sys.stderr)
                # Decided cases leave the queue: top up to the size before each run.
                from moderation.cases.models import Case

                missing = size - Case.objects.filter(status="open").count()
                fill(Case.objects.count() + missing, [q.pk for q in queues])
                run_reviewers(names, 5, Path(tmp))  # warm up plans and caches
                t = time.perf_counter()
                results[size] = run_reviewers(names, args.rounds, Path(tmp))
                results[size]["seconds"] = time.perf_counter() - t

        print(
            f"database: postgresql; {len(queues)} queues; {args.reviewers} reviewer processes at "
            f"once, {args.rounds} cases each per size; {os.cpu_count()} CPU cores"
        )
        print(f"{'':26}{args.small:>12,}{args.large:>12,}{'ratio':>8}")
        for what in ("claim", "review screen", "dashboard"):
            for q in (50, 95):
                small = p(results[args.small]["timings"][what], q)
                large = p(results[args.large]["timings"][what], q)
                label = f"{what} p{q} (ms)"
                print(f"{label:26}{small:12.2f}{large:12.2f}{large / small:8.2f}")
        for size in (args.small, args.large):
            claimed = results[size]["claimed"]
            rate = len(claimed) / results[size]["seconds"]
            print(f"{size:>12,} open: {len(claimed)} cases decided, {rate:.0f} cases/s overall")
        print(f"double assignments: {double_assignments()}")


if __name__ == "__main__":
    main()
