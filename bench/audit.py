"""The audit log at millions of rows: sealing the hash chain and verify_audit_log.

Builds a throwaway PostgreSQL database (test_<name> of DATABASE_URL, dropped afterwards), fills it
with `--cases` cases and `--events` unsealed audit events with INSERT ... SELECT generate_series,
seals them all (timed: what the migration does for an existing log), then runs
`manage.py verify_audit_log` over the whole chain in a child process, once per `--workers` count
(timed; peak resident memory summed over the command and its worker processes, sampled every
50 ms: memory must stay bounded whatever the size). Last, the audit browser's
and queue health's pages are timed against this same database (p95 of `--requests` loads each, as
a logged-in supervisor through Django's test client: the view, its queries and the template, not
the network). bench/audit_browser.py and bench/queue_health.py go deeper into each page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench bench/audit.py \
        [--cases 1000000 --events 5000000] [--keep] [--reuse] [--workers 1,2]

`--keep` leaves the filled database behind; `--reuse` times verification and pages against it
again without filling (a quiet machine matters: the figures are CPU-bound).
"""

import argparse
import os
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

from bench.claim import _database_url, fill  # noqa: E402
from bench.scratch import add_database_arguments, scratch_database  # noqa: E402

EVENT_BATCH = 500_000
VERBS = ["case.claimed", "case.decided", "media.viewed", "report.received", "case.released"]


def fill_events(total: int, users: list[int]) -> None:
    """Unsealed audit events over the cases, shaped like real ones: most carry a small JSON
    payload of ints and strings, one in ten a float score, some an IP."""
    from moderation.cases.models import Case

    low, high = (
        Case.objects.order_by("id").values_list("id", flat=True)[0],
        Case.objects.latest("id").pk,
    )
    span = high - low + 1
    verbs = "ARRAY[" + ",".join(f"'{v}'" for v in VERBS) + "]"
    actors = "ARRAY[" + ",".join(map(str, users)) + "]::bigint[]"
    with connection.cursor() as cursor:
        for start in range(0, total, EVENT_BATCH):
            n = min(EVENT_BATCH, total - start)
            cursor.execute(
                "INSERT INTO moderation_auditevent (actor_id, actor_label, verb, object_type, "
                "object_id, case_id, before, after, ip, created_at) "
                f"SELECT CASE WHEN g %% 10 = 0 THEN NULL ELSE ({actors})[1 + g %% {len(users)}] END, "
                "CASE WHEN g %% 10 = 0 THEN 'system' ELSE 'bench' || (g %% "
                + str(len(users))
                + ") END, "
                f"({verbs})[1 + g %% {len(VERBS)}], 'moderation.case', "
                f"({low} + g %% {span})::text, {low} + g %% {span}, "
                "CASE WHEN g %% 3 = 0 THEN jsonb_build_object('status', 'open') END, "
                "CASE WHEN g %% 10 = 1 THEN jsonb_build_object('score', (g %% 997) / 7.0, 'n', g) "
                "ELSE jsonb_build_object('status', 'claimed', 'n', g, 'queue', 'general') END, "
                "CASE WHEN g %% 4 = 0 THEN '10.1.' || (g %% 250) || '.' || (g %% 200) END::inet, "
                "now() - (%s - g) * interval '500 milliseconds' "
                "FROM generate_series(%s, %s) AS g",
                [total, start, start + n - 1],
            )
            print(f"  {start + n:,} audit events", file=sys.stderr)
        cursor.execute("VACUUM ANALYZE moderation_auditevent")


def _tree_rss_kib(root: int) -> int:
    """Resident memory of `root` and all its descendants (Linux /proc), in KiB."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue  # it ended meanwhile
        total += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        todo.extend(int(child) for child in children)
    return total


def time_verify(workers: int) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak MB summed over the process tree, its output line)."""
    env = {**os.environ, "DATABASE_URL": _database_url()}
    command = [sys.executable, str(ROOT / "manage.py"), "verify_audit_log", "--workers"]
    t = time.perf_counter()
    proc = subprocess.Popen(
        [*command, str(workers)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - t
    out, err = proc.communicate()
    return proc.returncode, seconds, peak / 1024, (out or err).strip()


def page_timings(args, users: list[int]) -> dict[str, float]:
    """{label: p95 milliseconds} of the supervisors' pages at this size."""
    from datetime import timedelta

    from django.contrib.auth.models import Group
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from moderation.audit.models import AuditEvent
    from moderation.supervision.queue_health import queue_hours_recompute

    supervisor = User.objects.get_or_create(username="bench-supervisor")[0]
    supervisor.groups.add(Group.objects.get(name="supervisor"))
    now = timezone.now()
    queue_hours_recompute(start=now - timedelta(days=30), end=now)
    some_case = (
        AuditEvent.objects.filter(case__isnull=False)
        .order_by("-id")
        .values_list("case_id", flat=True)[0]
    )
    actor = User.objects.get(pk=users[3])
    pages = {
        "audit browser, newest": "/audit/",
        "audit browser, one actor": f"/audit/?actor={actor.username}",
        "audit browser, one verb": "/audit/?verb=case.decided",
        "audit browser, last day": f"/audit/?from={(now - timedelta(days=1)):%Y-%m-%dT%H:%M}",
        "case timeline": f"/audit/case/{some_case}/",
        "reviewer timeline": f"/audit/actor/{actor.pk}/",
        "queue health": "/supervise/queues/",
        "queue health, live partial": "/supervise/queues/live/",
    }
    client = Client()
    client.force_login(supervisor)
    out = {}
    for label, url in pages.items():
        response = client.get(url)  # warm up
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(args.requests):
            t = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[label] = times[min(len(times) - 1, int(len(times) * 0.95))]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    add_database_arguments(parser)
    parser.add_argument("--requests", type=int, default=40, help="Loads of each page timed.")
    parser.add_argument(
        "--workers", default=f"1,{os.cpu_count()}", help="verify_audit_log --workers counts."
    )
    args = parser.parse_args()

    from accounts.models import User
    from moderation.audit.chain import audit_seal
    from moderation.cases.models import Queue

    with scratch_database(keep=args.keep, reuse=args.reuse) as new:
        if new:
            users = [User.objects.create_user(f"bench{i}").pk for i in range(20)]
            print(f"filling {args.cases:,} cases ...", file=sys.stderr)
            fill(args.cases, [q.pk for q in Queue.objects.routable()])
            print(f"filling {args.events:,} audit events ...", file=sys.stderr)
            t = time.perf_counter()
            fill_events(args.events, users)
            print(f"  filled in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            t = time.perf_counter()
            sealed = audit_seal(wait=True, batch=10_000)
            seal_s = time.perf_counter() - t
        else:
            users = list(
                User.objects.filter(username__regex=r"^bench\d+$")
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        with connection.cursor() as cursor:
            if new:
                cursor.execute("VACUUM ANALYZE moderation_auditevent")
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('moderation_auditevent'))")
            size = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM moderation_auditevent")
            events = cursor.fetchone()[0]

        print(f"database: postgresql; {os.cpu_count()} CPU cores; audit table {size}")
        print(f"audit events: {events:,}")
        if new:
            print(
                f"seal all events: {sealed:,} in {seal_s:.1f} s ({sealed / seal_s:,.0f} events/s)"
            )
        for workers in [int(n) for n in args.workers.split(",")]:
            code, seconds, peak_mb, line = time_verify(workers)
            print(
                f"verify_audit_log --workers {workers}: exit {code} in {seconds:.1f} s "
                f"({events / seconds:,.0f} events/s), peak RSS {peak_mb:.0f} MB in all processes"
            )
            print(f"  {line}")
        for label, ms in page_timings(args, users).items():
            print(f"{label} p95: {ms:.1f} ms (target 200)")


if __name__ == "__main__":
    main()
