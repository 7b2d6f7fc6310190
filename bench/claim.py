"""Review next, the dashboard and the review screen at a million open cases, eight reviewers at once.

Builds a throwaway PostgreSQL database (test_<name> of DATABASE_URL, dropped afterwards unless
--keep), fills it with open cases spread over ten queues, first `--small` then `--large` of them,
and at each size measures, side by side with the ratio (flat means the indexes do their job):

- the claim alone ("review next" and the API's claim call both are this one service call), timed
  at the service: one reviewer process claiming `--claims` cases (p50, p95), then `--reviewers`
  processes claiming `--claims` cases each at the same moment (claims per second in total, p95).
  A claimed case is then closed with one UPDATE, standing in for the decision, so this measures
  claiming and nothing else;
- as reviewers work: `--reviewers` processes that each claim, open the review screen, decide and
  come back to the dashboard, `--rounds` times (pages timed through Django's test client:
  middleware, session, template);

and checks that no case was handed to two reviewers (double assignments: a case claimed or decided
twice, or in two processes' lists).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench bench/claim.py \
        [--small 10000 --large 1000000 --reviewers 8 --claims 300 --rounds 150]
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

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.scratch import add_database_arguments, scratch_database  # noqa: E402

# The audit chain is sealed after commits at most this often per process, as deployed (the test
# settings this bench borrows seal after every commit, so that tests can read the chain at once).
settings.AUDIT_SEAL_INTERVAL_MS = max(0, int(os.environ.get("VIGIL_AUDIT_SEAL_INTERVAL_MS", 250)))

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
        print(f"  {start + n:,} cases in all", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _wait_for_go(out: str, go: str) -> None:
    """Tell the parent this process is ready (Django set up, warmed up), then wait for the start."""
    Path(out + ".ready").touch()
    while not Path(go).exists():
        time.sleep(0.005)


def claimer_process(username: str, claims: int, out: str, go: str) -> None:
    """One reviewer claiming `claims` cases as fast as it can: the claim timed at the service, then
    the case closed with one UPDATE (standing in for the decision, which is not measured here)."""
    from accounts.models import User
    from moderation.cases.services import case_claim_next

    user = User.objects.get(username=username)

    def close(case_id: int) -> None:
        # Not what is measured: its commit need not wait for the disk as the claim's does.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")
            cursor.execute(
                "UPDATE moderation_case SET status = 'decided', decided_at = now(), "
                "assignee_id = NULL, lease_expires_at = NULL WHERE id = %s",
                [case_id],
            )

    for _ in range(5):  # warm up: the prepared statement, plans, caches
        close(case_claim_next(user=user).pk)
    _wait_for_go(out, go)
    timings, claimed = [], []
    started = time.time()
    for _ in range(claims):
        t = time.perf_counter()
        case = case_claim_next(user=user)
        timings.append(time.perf_counter() - t)
        claimed.append(case.pk)
        close(case.pk)
    ended = time.time()
    result = {"timings": {"claim": timings}, "claimed": claimed, "started": started, "ended": ended}
    Path(out).write_text(json.dumps(result))


def reviewer_process(username: str, rounds: int, out: str, go: str) -> None:
    """One reviewer: review next, look at the case, decide, back to the dashboard; `rounds` times."""
    from django.test import Client

    from accounts.models import User
    from moderation.cases.services import case_claim_next

    client = Client()
    client.force_login(User.objects.get(username=username))
    timings = {"claim": [], "review screen": [], "dashboard": []}
    claimed = []
    user = User.objects.get(username=username)
    # Two rounds untimed first: templates, URL patterns and plans are this process's own.
    for i in range(-2, rounds):
        if i == 0:
            _wait_for_go(out, go)
            started = time.time()
        # The claim itself (the service "review next" and the API's claim call), then the pages
        # as the reviewer's browser loads them.
        t = time.perf_counter()
        case = case_claim_next(user=user)
        claim = time.perf_counter() - t
        case_id = case.pk
        url = f"/cases/{case_id}/"
        t = time.perf_counter()
        page = client.get(url)
        screen = time.perf_counter() - t
        assert page.status_code == 200
        decided = client.post(
            f"/cases/{case_id}/decide/",
            {"action": "no_violation", "policy": "harassment", "notes": "bench"},
        )
        assert decided.status_code == 302, decided.content[:500]
        t = time.perf_counter()
        assert client.get("/review/").status_code == 200
        dashboard = time.perf_counter() - t
        claimed.append(case_id)
        if i >= 0:
            timings["claim"].append(claim)
            timings["review screen"].append(screen)
            timings["dashboard"].append(dashboard)
    result = {"timings": timings, "claimed": claimed, "started": started, "ended": time.time()}
    Path(out).write_text(json.dumps(result))


def run_processes(mode: str, usernames: list[str], count: int, workdir: Path) -> dict:
    """`mode` (--claimer or --reviewer) in one process per reviewer, started together once every
    one is ready; their timings and claimed cases merged, with the time they took together."""
    env = {**os.environ, "DATABASE_URL": _database_url()}
    outs = [workdir / f"{u}.json" for u in usernames]
    go = workdir / "go"
    for path in [go, *outs, *(Path(f"{o}.ready") for o in outs)]:
        path.unlink(missing_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, mode, u, "--count", str(count), "--out", str(o)]
            + ["--go", str(go)],
            env=env,
        )
        for u, o in zip(usernames, outs, strict=True)
    ]
    while not all(Path(f"{o}.ready").exists() for o in outs):
        if any(proc.poll() not in (None, 0) for proc in procs):
            raise SystemExit("a reviewer process failed")
        time.sleep(0.01)
    go.touch()
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit("a reviewer process failed")
    merged = {"timings": {}, "claimed": []}
    started, ended = [], []
    for out in outs:
        data = json.loads(out.read_text())
        merged["claimed"] += data["claimed"]
        started.append(data["started"])
        ended.append(data["ended"])
        for what, values in data["timings"].items():
            merged["timings"].setdefault(what, []).extend(values)
    # From the first process's start to the last one's end (not counting their exit).
    merged["seconds"] = max(ended) - min(started)
    return merged


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def double_assignments(claimed: list[int]) -> int:
    """Of these claimed cases, those that more than one claim or decision took (each case here is
    taken once), or that appear twice in the processes' lists."""
    from django.db.models import Count

    from moderation.audit.models import AuditEvent
    from moderation.decisions.models import Decision

    ids = set(claimed)
    claimed_twice = (
        AuditEvent.objects.filter(verb="case.claimed", case_id__in=ids)
        .values("case_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    decided_twice = (
        Decision.objects.filter(case_id__in=ids)
        .values("case_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    return claimed_twice + decided_twice + len(claimed) - len(ids)


def p(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def top_up(size: int, queues) -> None:
    """Claimed and decided cases leave the queues: bring the open cases back up to `size`."""
    from moderation.cases.models import Case

    missing = size - Case.objects.filter(status="open").count()
    if missing > 0:
        print(f"filling to {size:,} open cases ...", file=sys.stderr)
        fill(Case.objects.count() + missing, [q.pk for q in queues])


def setup_reviewers(count: int):
    """Ten routable queues and `count` reviewers certified for all of them (kept on --reuse)."""
    from datetime import timedelta

    from django.contrib.auth.models import Group

    from accounts.models import QueueCertification, User
    from moderation.cases.models import Queue

    # Queues that routing fills (not senior review or appeals, reached by people's actions).
    for i in range(QUEUES - Queue.objects.routable().count()):
        Queue.objects.create(slug=f"bench-{i}", name=f"Bench {i}", categories=["__none__"])
    queues = list(Queue.objects.routable())[:QUEUES]
    names = [f"bench{i}" for i in range(count)]
    for name in names:
        user, _ = User.objects.get_or_create(username=name)
        user.groups.add(Group.objects.get(name="reviewer"))
        for q in queues:
            QueueCertification.objects.update_or_create(
                user=user, queue=q, defaults={"expires_at": timezone.now() + timedelta(days=1)}
            )
    return queues, names


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--reviewers", type=int, default=8)
    parser.add_argument("--claims", type=int, default=300, help="claims per process per size")
    parser.add_argument("--rounds", type=int, default=150, help="cases per reviewer per size")
    add_database_arguments(parser)
    parser.add_argument("--claimer", help=argparse.SUPPRESS)
    parser.add_argument("--reviewer", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--go", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.claimer:
        return claimer_process(args.claimer, args.count, args.out, args.go)
    if args.reviewer:
        return reviewer_process(args.reviewer, args.count, args.out, args.go)
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server: this measures its row locking.")

    import tempfile

    with scratch_database(keep=args.keep, reuse=args.reuse):
        queues, names = setup_reviewers(args.reviewers)
        sizes = (args.small, args.large)
        one, many, pages = {}, {}, {}
        with tempfile.TemporaryDirectory() as tmp:
            for size in sizes:
                print(f"claiming at {size:,} ...", file=sys.stderr)
                top_up(size, queues)
                one[size] = run_processes("--claimer", names[:1], args.claims, Path(tmp))
                top_up(size, queues)
                many[size] = run_processes("--claimer", names, args.claims, Path(tmp))
                print(f"reviewing at {size:,} ...", file=sys.stderr)
                top_up(size, queues)
                pages[size] = run_processes("--reviewer", names, args.rounds, Path(tmp))

        print(
            f"database: postgresql; {len(queues)} queues; {os.cpu_count()} CPU cores; claims: one "
            f"reviewer process, then {args.reviewers} at once, {args.claims} claims each; "
            f"reviewing: {args.reviewers} processes, {args.rounds} cases each"
        )
        print(f"{'open cases':34}{args.small:>12,}{args.large:>12,}{'ratio':>8}")

        def row(label: str, small: float, large: float, fmt: str = "12.2f") -> None:
            print(f"{label:34}{small:{fmt}}{large:{fmt}}{large / small if small else 0:8.2f}")

        for q in (50, 95):
            row(
                f"claim p{q}, one reviewer (ms)",
                *(p(one[s]["timings"]["claim"], q) for s in sizes),
            )
        row(
            f"claims/s, {args.reviewers} reviewers",
            *(len(many[s]["timings"]["claim"]) / many[s]["seconds"] for s in sizes),
            fmt="12.0f",
        )
        for q in (50, 95):
            row(
                f"claim p{q}, {args.reviewers} reviewers (ms)",
                *(p(many[s]["timings"]["claim"], q) for s in sizes),
            )
        row(
            f"double assignments, {args.reviewers} reviewers",
            *(double_assignments(many[s]["claimed"]) for s in sizes),
            fmt="12d",
        )
        for what in ("claim", "review screen", "dashboard"):
            for q in (50, 95):
                row(
                    f"reviewing: {what} p{q} (ms)",
                    *(p(pages[s]["timings"][what], q) for s in sizes),
                )
        row(
            "reviewing: cases/s overall",
            *(len(pages[s]["timings"]["claim"]) / pages[s]["seconds"] for s in sizes),
            fmt="12.0f",
        )
        everything = [
            pk for runs in (one, many, pages) for r in runs.values() for pk in r["claimed"]
        ]
        print(f"double assignments, every run: {double_assignments(everything)}")


if __name__ == "__main__":
    main()
