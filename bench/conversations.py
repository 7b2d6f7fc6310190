"""Conversations and links as deployed (issue 19): conversation reports over HTTP, the conversation
case page of a 10,000-message thread beside a 3-message one, and links fetched by real rqworkers.

gunicorn (`config.wsgi`, sync workers) and `manage.py rqworker high default links --with-scheduler`
processes (the README's deployment commands; Vigil's worker class) on a throwaway PostgreSQL
database (test_<name> of DATABASE_URL, migrated, dropped afterwards, even on failure) and the Redis
database REDIS_URL names (it must be empty; it is emptied at the end), with private media and
index directories. Every process runs with bench.settings_links: the production settings plus
127.0.0.1 on lib/safe_fetch.py's test-only allow-list, so the workers can fetch from the local
server of step 3 (the same thing tests/reports/link_worker.py does). bench/pipeline.py's helpers
start and stop everything.

1. **Intake.** `POST /api/v1/reports` with a conversation of 100, 1,000 and 10,000 messages
   (`--sizes`): two participants (an adult of 34, estimated; a child of 13, stated, who reports
   it), five reported messages (the last three, one a third and one half way in: what a reporter
   points at is what was said lately) and three attachments (distinct generated 320x240 photos)
   whatever the size, `--intake-requests` new conversations each, one at a time, no rqworker running (the
   request alone). Latency per request from this process; the gunicorn workers' resident memory
   before, at its peak (VmHWM, reset through /proc/<pid>/clear_refs before each size) and after;
   the SQL statements one report of each size costs (the same request through Django's test
   client in this process, CaptureQueriesContext). Then rqworkers run what the reports queued
   (hashing the attachments, the account checks) and are stopped: each kind of job's time.
2. **The case page.** A reviewer holding both cases (as after "review next") opens the case page
   (`/cases/<id>/?thread_page=N`) and the htmx part htmx swaps in when paging
   (`/cases/<id>/thread/?thread_page=N`, `HX-Request: true`) of a 3-message conversation, and of a
   10,000-message one at its first page, a middle page and its last page (100 messages a page),
   each `--rounds` times, interleaved, through gunicorn with the reviewer's session cookie. Every
   answer must be 200 and hold the page's own messages. Median and p95 per page, each beside the
   3-message page's; in this process, the SQL statements and SQL time of each page.
3. **Links.** A local HTTP server on 127.0.0.1 serves `--links` links (200), written in the
   messages of conversation reports (50 a report), shuffled: distinct photos (640x480 JPEG), copies
   of pictures listed in a PDQ bank (must match), photos after a 1 s pause, a redirect to a photo
   on the same server, 404s, an answer declaring a size over MAX_UPLOAD_BYTES, one streaming past
   it without declaring a size, an HTML page, redirects to `localhost` (resolved by the system to
   loopback, not on the allow-list) and to 127.0.0.2 (a second server there counts requests:
   none may reach it), and `--too-slow` answers that dribble past LINK_FETCH_TIMEOUT. The reports
   are posted with no worker running; then `--workers` fresh rqworkers run until every link is
   fetched or refused and every fetched file is hashed and matched: links per second over that
   time, each kind's outcome against what it should be, each kind's fetch job time (RQ's
   records), the worker processes alive at the end, failed jobs and tracebacks in their logs, and
   their memory and the work horses' (fetch_link runs in a forked horse). Two seconds after the
   workers start, a report with one picture comes in: how long until it is hashed (its hashing
   job is queued on the queue the link jobs are on).

Prints markdown tables, large beside small, and a line per check.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench_conversations \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/conversations.py \\
        [--sizes 100,1000,10000 --intake-requests 10 --rounds 30 --links 200 --workers 2]

About 5 minutes on the standard machine (2 cores), a minute of it making the pictures.
"""

import argparse
import base64
import json
import os
import random
import shutil
import signal
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Pool
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.intake import machine_busy  # noqa: E402
from bench.pipeline import (  # noqa: E402
    HorseSampler,
    _copy,
    _distance,
    _fresh,
    _listed,
    bench_environment,
    children,
    deploy,
    epoch,
    failed_jobs,
    finished_jobs,
    job_kind,
    pct,
    progress,
    queues_idle,
    smaps,
    undeploy,
    vm_peak_mb,
)

SETTINGS = "bench.settings_links"
SENT = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
TEXT = "message {j}: are you still there? tell me about your day, and don't tell anyone we talk"
ATTACHMENTS = 3  # per intake report, whatever its size
PER_REPORT = 50  # links per link report (a report records at most 100)
SLOW_S = 1.0
# Link kinds of the default 200, scaled with --links; "image" takes the rest.
MIX = {
    "copy": 20,
    "slow": 20,
    "redirect": 10,
    "404": 20,
    "oversized": 5,
    "endless": 5,
    "page": 10,
    "to-localhost": 10,
    "to-loopback": 10,
}
# What each kind must end as: status, and words its refusal gives.
EXPECTED = {
    "image": ("fetched", ""),
    "copy": ("fetched", ""),
    "slow": ("fetched", ""),
    "redirect": ("fetched", ""),
    "404": ("refused", "the server answered 404"),
    "oversized": ("refused", "larger than"),
    "endless": ("refused", "larger than"),
    "page": ("refused", "not an image or a video"),
    "to-localhost": ("refused", "not public"),
    "to-loopback": ("refused", "not public"),
    "too-slow": ("refused", "took too long"),
}
FLAT = 1.25  # a paged, indexed page: large / small at most this


def fail(message: str) -> None:
    raise SystemExit(f"bench/conversations.py: {message}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="messages per intake report")
    parser.add_argument("--intake-requests", type=int, default=10, help="reports per size (10)")
    parser.add_argument("--rounds", type=int, default=30, help="timed requests per page (30)")
    parser.add_argument("--links", type=int, default=200, help="links fetched (200)")
    parser.add_argument("--too-slow", type=int, default=2, help="links cut off by the deadline")
    parser.add_argument("--workers", type=int, default=2, help="rqworker processes (2)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers (2)")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if max(args.sizes) < 10_000 or min(args.sizes) < 10 or args.links < 40 or args.rounds < 5:
        parser.error("sizes of at least 10 up to 10,000, at least 40 links and 5 rounds")
    return args


# --- pictures and bodies ------------------------------------------------------------------------


def _attachment(seed: int) -> bytes:
    from bench.hashing import photo

    return photo(seed, 320, 240, 85)


def link_plan(links: int, too_slow: int) -> list[str]:
    kinds = {k: max(1, round(n * links / 200)) for k, n in MIX.items()}
    kinds["too-slow"] = too_slow
    kinds["image"] = links - sum(kinds.values())
    plan = [k for k, n in kinds.items() for _ in range(n)]
    random.Random(19).shuffle(plan)
    return plan


class Pictures:
    """Made once in two processes: attachments for every intake report, photos for the links,
    and listed pictures (their PDQ hashes go into a bank) with a copy of each for the links."""

    def __init__(self, attachments: int, plan: list[str]):
        started = time.perf_counter()
        kinds = Counter(plan)
        # The workers stop as plain processes do (bench_environment's SIGTERM handler would make
        # the pool's ending print a traceback from each).
        with Pool(2, signal.signal, (signal.SIGTERM, signal.SIG_DFL)) as pool:
            self.attachments = pool.map(_attachment, range(5_000_000, 5_000_000 + attachments))
            originals = pool.map(_listed, range(6_000_000, 6_000_000 + kinds["copy"]))
            photos = kinds["image"] + kinds["slow"] + kinds["redirect"]
            self.photos = pool.map(_fresh, range(7_000_000, 7_000_000 + photos))
        from reports.hashing import perceptual_hashes

        self.listed_pdq = [perceptual_hashes(o).pdq for o in originals]
        self.copies = [_copy(o) for o in originals]
        pairs = zip(self.copies, self.listed_pdq, strict=True)
        if any(_distance(perceptual_hashes(c).pdq, h) > 31 for c, h in pairs):
            fail("a copy is more than 31 bits from its listed picture")
        self.seconds = time.perf_counter() - started
        self._next = iter(self.attachments)

    def take(self, n: int) -> list[bytes]:
        return [next(self._next) for _ in range(n)]


def conversation_body(cid: str, size: int, files: list[bytes], text=None) -> bytes:
    """A report of conversation `cid` of `size` messages, a second apart, alternating between an
    adult (reported) and a child (who reports it); five messages reported, the last three and two
    from a third and half way in, as a reporter points at what was said lately (one, the middle,
    in a thread of three); `files` attached to messages 1, size/2 and size-1 (in that order)."""
    adult, child = f"{cid}-adult", f"{cid}-child"
    reported = {size // 3, size // 2, size - 3, size - 2, size - 1} if size >= 10 else {1}
    on = dict(zip(sorted({1, size // 2, size - 1}), files, strict=False))
    messages = []
    for j in range(size):
        message = {
            "id": f"m-{j}",
            "sender_id": adult if j % 2 == 0 else child,
            "sent_at": (SENT + timedelta(seconds=j)).isoformat(),
            "text": text(j) if text else TEXT.format(j=j),
            "reported": j in reported,
        }
        if j in on:
            data = base64.b64encode(on[j]).decode()
            message["attachments"] = [{"filename": f"photo-{j}.jpg", "data_base64": data}]
        messages.append(message)
    body = {
        "content": {"id": cid, "type": "conversation", "owner_id": adult, "owner_handle": "@a"},
        "category": "grooming",
        "description": "Reported from the chat",
        "reporter": {"kind": "platform_user", "account_id": child},
        "conversation": {
            "participants": [
                {"account_id": adult, "handle": "@a", "age": 34, "age_source": "estimated"},
                {"account_id": child, "handle": "@c", "age": 13, "age_source": "stated"},
            ],
            "messages": messages,
        },
    }
    return json.dumps(body).encode()


# --- HTTP ---------------------------------------------------------------------------------------


def post_report(port: int, token: str, body: bytes) -> tuple[float, dict]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"http://127.0.0.1:{port}/api/v1/reports",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as r:  # noqa: S310
            answer = json.loads(r.read())
    except urllib.error.HTTPError as e:
        fail(f"POST /api/v1/reports answered {e.code}: {e.read()[:500]!r}")
    return (time.perf_counter() - started) * 1000, answer


def get_page(deployment, path: str, cookie: str, htmx: bool) -> tuple[float, str]:
    headers = {"Cookie": cookie, **({"HX-Request": "true"} if htmx else {})}
    url = f"http://127.0.0.1:{deployment.port}{path}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as r:  # noqa: S310
            body = r.read().decode()
    except urllib.error.HTTPError as e:
        log = (deployment.workdir / "gunicorn.log").read_text()[-3000:]
        fail(f"GET {path} answered {e.code}; gunicorn's log ends:\n{log}")
    return (time.perf_counter() - started) * 1000, body


class LinkServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, files: dict[str, bytes]):
        super().__init__(address, LinkHandler)
        self.files, self.hits = files, Counter()
        self.elsewhere = ""  # the 127.0.0.2 server's address, for the redirects there


class LinkHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", content_type="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's name)
        from django.conf import settings

        s = self.server
        path = self.path.partition("?")[0]
        kind, _, name = path.strip("/").partition("/")
        s.hits[kind] += 1
        try:
            if kind == "slow":
                time.sleep(SLOW_S)
            if path in s.files:
                return self._send(200, s.files[path], "image/jpeg")
            if kind == "redirect":
                return self._send(302, headers=[("Location", f"/redirected/{name}")])
            if kind == "to-localhost":
                port = s.server_address[1]
                return self._send(302, headers=[("Location", f"http://localhost:{port}/secret/x")])
            if kind == "to-loopback":
                return self._send(302, headers=[("Location", f"http://{s.elsewhere}/secret/x")])
            if kind == "page":
                return self._send(200, b"<html><body>a page</body></html>", "text/html")
            if kind == "oversized":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(settings.MAX_UPLOAD_BYTES + 1))
                return self.end_headers()
            if kind in ("endless", "too-slow"):
                return self._stream(kind == "too-slow", settings.MAX_UPLOAD_BYTES * 4)
            return self._send(404)
        except OSError:
            pass  # the fetch hung up, as it should on these

    def _stream(self, dribble: bool, most: int):
        """An image without an announced length: 64 KiB at a time past the size limit, or a byte
        every 50 ms (until the reader hangs up, or a minute has passed)."""
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        sent, deadline = 0, time.monotonic() + 60
        piece = b"\xff" if dribble else b"\xff" * 65536
        while sent < most and time.monotonic() < deadline:
            self.wfile.write(piece)
            self.wfile.flush()
            sent += len(piece)
            if dribble:
                time.sleep(0.05)


def serve(server: LinkServer) -> LinkServer:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- processes, memory, jobs --------------------------------------------------------------------


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def with_scheduler(deployment) -> None:
    """The README's worker command: `rqworker high default links --with-scheduler`."""
    plain = deployment.manage
    deployment.manage = lambda *a: (
        [*plain(*a), "--with-scheduler"] if a[0] == "rqworker" else plain(*a)
    )


def run_workers(
    deployment, workers: int, tag: str, done, timeout: float, horses=None, meanwhile=None
) -> tuple[float, list]:
    """Start `workers` fresh rqworkers and wait until `done()` holds with the queues idle and the
    outbox relayed (twice, 0.2 s apart); the time that took and the jobs finished meanwhile.
    `horses`: a HorseSampler to watch these workers' work horses; `meanwhile()` is called once,
    2 s after they started."""
    from moderation.outbox.models import OutboxJob

    before = {j.id for j in finished_jobs()}
    started = time.time()
    deployment.start_workers(workers, tag, None)
    if horses is not None:
        horses.parents = [p.pid for p, _, _ in deployment.workers]
    deadline, settled = time.monotonic() + timeout, 0
    while settled < 2:
        if meanwhile is not None and time.time() > started + 2:
            meanwhile()
            meanwhile = None
        deployment.check_workers()
        if time.monotonic() > deadline:
            fail(f"{tag}: not done after {timeout:.0f} s")
        quiet = queues_idle() and not OutboxJob.objects.filter(enqueued_at__isnull=True).exists()
        settled = settled + 1 if quiet and done() else 0
        time.sleep(0.2)
    wall = time.time() - started - 0.4
    return wall, [j for j in finished_jobs() if j.id not in before]


def job_seconds(job) -> float:
    return epoch(job.ended_at) - epoch(job.started_at)


def log_problems(deployment) -> int:
    words = ("Traceback", "terminated unexpectedly", "Moving job to FailedJobRegistry")
    return sum(
        log.read_text().count(w) for log in deployment.workdir.glob("bench-*.log") for w in words
    )


# --- the three parts ----------------------------------------------------------------------------


def intake(args, deployment, token: str, pictures: Pictures) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from reports.models import Message

    r = {"sizes": {}}
    port = deployment.port
    for i in range(2 * args.web_workers):  # every web worker's first request, not measured
        post_report(port, token, conversation_body(f"warm-{i}", 100, pictures.take(ATTACHMENTS)))
    web = children(deployment.server.pid)
    client = Client(HTTP_HOST="127.0.0.1", headers={"authorization": f"Bearer {token}"})
    for size in args.sizes:
        bodies = [
            conversation_body(f"conv-{size}-{i}", size, pictures.take(ATTACHMENTS))
            for i in range(args.intake_requests)
        ]
        before = {p: status_mb(p, "VmRSS") for p in web}
        for p in web:
            Path(f"/proc/{p}/clear_refs").write_text("5")  # VmHWM back to VmRSS
        timed = [post_report(port, token, body) for body in bodies]
        peak = {p: status_mb(p, "VmHWM") for p in web}
        after = {p: status_mb(p, "VmRSS") for p in web}
        if children(deployment.server.pid) != web:
            fail(f"a gunicorn worker was replaced during the {size}-message reports")
        stored = Message.objects.filter(conversation__platform_id=f"conv-{size}-0").count()
        if stored != size:
            fail(f"conv-{size}-0 has {stored} messages stored, not {size}")
        body = conversation_body(f"sql-{size}", size, pictures.take(ATTACHMENTS))
        with CaptureQueriesContext(connection) as ctx:
            answer = client.post("/api/v1/reports", body, content_type="application/json")
        if answer.status_code != 201:
            fail(f"in-process report of {size}: {answer.status_code} {answer.content[:300]!r}")
        r["sizes"][size] = {
            "ms": [ms for ms, _ in timed],
            "case_ids": [a["case_id"] for _, a in timed],
            "body_mb": statistics.mean(len(b) for b in bodies) / 2**20,
            "rss_before": max(before.values()),
            "peak": max(peak.values()),
            "growth": max(peak[p] - before[p] for p in web),
            "rss_after": max(after.values()),
            "queries": len(ctx.captured_queries),
            "sql_ms": sum(float(q["time"]) for q in ctx.captured_queries) * 1000,
            "top": statements(ctx.captured_queries),
        }
        connection.close()
        s = r["sizes"][size]
        progress(
            f"intake {size}: p50 {pct(s['ms'], 50):.0f} ms, peak RSS {s['peak']:.0f} MB "
            f"(+{s['growth']:.0f}), {s['queries']} statements"
        )
    return r


def statements(captured: list[dict], top: int = 4) -> list[tuple[float, int, str]]:
    """The statements that took the most time in all, grouped by their first 70 characters:
    (ms, how many, the beginning)."""
    groups: dict[str, list[float]] = {}
    for q in captured:
        groups.setdefault(q["sql"][:70], []).append(float(q["time"]) * 1000)
    ranked = sorted(((sum(t), len(t), k) for k, t in groups.items()), reverse=True)
    return ranked[:top]


def drain_intake(args, deployment) -> dict:
    from reports.models import Media

    def done():
        return not Media.objects.filter(hashed_at__isnull=True).exists()

    wall, jobs = run_workers(deployment, args.workers, "intake", done, 600)
    by_kind: dict[str, list[float]] = {}
    for job in jobs:
        by_kind.setdefault(job_kind(job), []).append(job_seconds(job))
    deployment.check_workers()
    deployment.stop_workers()
    progress(f"intake jobs: {len(jobs)} in {wall:.1f} s")
    return {"wall_s": wall, "jobs": by_kind, "failed": failed_jobs()}


def pages(args, deployment, token: str, large_case: int, pictures: Pictures) -> dict:
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import QueueCertification, User
    from accounts.roles import Role
    from moderation.cases.models import Case, Queue

    # A thread of 3 messages, and one of exactly one full page (100) with the same one file:
    # what a page of the large thread draws, without the 9,900 other messages.
    small_case, page_case = (
        post_report(deployment.port, token, conversation_body(cid, n, pictures.take(1)))[1][
            "case_id"
        ]
        for cid, n in (("conv-small", 3), ("conv-page", 100))
    )
    reviewer = User.objects.create_user("bench-reviewer")
    reviewer.groups.add(Group.objects.get(name=Role.REVIEWER))
    now = timezone.now()
    for queue in Queue.objects.all():
        QueueCertification.objects.create(
            user=reviewer, queue=queue, granted_at=now, expires_at=now + timedelta(days=1)
        )
    # Held by the reviewer, as after "review next": the page a reviewer deciding it sees.
    Case.objects.filter(pk__in=[small_case, page_case, large_case]).update(
        assignee=reviewer, lease_expires_at=now + timedelta(hours=1)
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(reviewer)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    shown = [
        ("3 messages", small_case, 1, "m-0", "m-2"),
        ("100 messages", page_case, 1, "m-0", "m-99"),
        ("10,000: page 1", large_case, 1, "m-0", "m-99"),
        ("10,000: page 51", large_case, 51, "m-5000", "m-5099"),
        ("10,000: page 100", large_case, 100, "m-9900", "m-9999"),
    ]
    urls = []
    for name, case_id, page, first, last in shown:
        for part, path in (("page", f"/cases/{case_id}/"), ("htmx", f"/cases/{case_id}/thread/")):
            urls.append((name, part, f"{path}?thread_page={page}", first, last))
    passes = {}
    for name, statement in (
        ("as the reports left the tables", None),
        ("after ANALYZE", "ANALYZE reports_message, reports_participant, reports_media"),
    ):
        with connection.cursor() as cursor:
            if statement:
                cursor.execute(statement)
            cursor.execute(
                "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL, "
                "n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'reports_message'"
            )
            analysed, changed = cursor.fetchone()
        connection.close()
        passes[name] = measure_pages(args, deployment, client, cookie, urls)
        passes[name].update(analysed=analysed, changed_since=changed)
        progress(f"pages {name}: {passes[name]['plans']['page'][-1]}")
    return {"shown": [s[0] for s in shown], "passes": passes}


def measure_pages(args, deployment, client, cookie: str, urls: list) -> dict:
    """Each URL `args.rounds` times through gunicorn (interleaved, after two rounds of warm-up),
    then 5 times in this process for its SQL; the plans of the large thread's last page's two
    statements that read its messages (the page, the counts)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = {(name, part): [] for name, part, *_ in urls}
    for round_ in range(args.rounds + 2):
        for name, part, path, first, last in urls:
            ms, body = get_page(deployment, path, cookie, part == "htmx")
            if f'data-message="{first}"' not in body or f'data-message="{last}"' not in body:
                fail(f"{path} does not show {first} to {last}")
            if round_ >= 2:
                timings[(name, part)].append(ms)
    sql, last_run = {}, []
    for name, part, path, *_ in urls:
        runs = []
        for _ in range(5):
            headers = {"HX-Request": "true"} if part == "htmx" else {}
            with CaptureQueriesContext(connection) as ctx:
                if client.get(path, headers=headers).status_code != 200:
                    fail(f"in-process GET {path} failed")
            runs.append([(float(q["time"]) * 1000, q["sql"]) for q in ctx.captured_queries])
        slowest, last_run = max(runs[-1]), runs[-1]
        sql[(name, part)] = {
            "queries": len(runs[-1]),
            "sql_ms": statistics.median(sum(t for t, _ in run) for run in runs),
            "slowest_ms": slowest[0],
            "slowest": slowest[1][:150],
        }
    # The last URL is the large thread's last page (its htmx part): how the database reads it.
    thread = [q for _, q in last_run if 'FROM "reports_message"' in q]
    chosen = {
        "page": next(q for q in thread if "LIMIT 100" in q),
        "counts": next(q for q in thread if "COUNT(" in q),
    }
    plans = {}
    with connection.cursor() as cursor:
        for key, query in chosen.items():
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query}")
            plans[key] = [row[0] for row in cursor.fetchall()]
    connection.close()
    return {"timings": timings, "sql": sql, "plans": plans}


def links(args, deployment, token: str, pictures: Pictures) -> dict:
    from django.db import connection

    from moderation.banks.models import Match
    from reports.models import Link, Media

    plan = link_plan(args.links, args.too_slow)
    photos, copies = iter(pictures.photos), iter(pictures.copies)
    files = {}
    for i, kind in enumerate(plan):
        if kind in ("image", "slow"):
            files[f"/{kind}/{i}.jpg"] = next(photos)
        elif kind == "redirect":
            files[f"/redirected/{i}.jpg"] = next(photos)
        elif kind == "copy":
            files[f"/copy/{i}.jpg"] = next(copies)
    here = serve(LinkServer(("127.0.0.1", 0), files))
    there = serve(LinkServer(("127.0.0.2", 0), {}))
    here.elsewhere = f"127.0.0.2:{there.server_address[1]}"
    base = f"http://127.0.0.1:{here.server_address[1]}"
    try:
        for start in range(0, len(plan), PER_REPORT):
            chunk = plan[start : start + PER_REPORT]

            def text(j, chunk=chunk, start=start):
                return f"look at this {base}/{chunk[j]}/{start + j}.jpg"

            post_report(
                deployment.port,
                token,
                conversation_body(f"links-{start}", len(chunk), [], text=text),
            )
        kind_of = {
            pk: url.removeprefix(base).split("/")[1]
            for pk, url in Link.objects.values_list("pk", "url")
        }
        if Counter(kind_of.values()) != Counter(plan):
            fail(f"links recorded {Counter(kind_of.values())}, posted {Counter(plan)}")

        def done():
            return not (
                Link.objects.filter(status=Link.Status.PENDING).exists()
                or Media.objects.filter(links__isnull=False, hashed_at__isnull=True).exists()
            )

        def upload():
            # A report with a picture, sent while the links are fetched: its hashing job waits
            # in the same queue.
            body = conversation_body("upload-during-links", 3, pictures.take(1))
            post_report(deployment.port, token, body)

        with HorseSampler([]) as horses:
            wall, jobs = run_workers(
                deployment, args.workers, "links", done, 900, horses, meanwhile=upload
            )
        workers = [p for p, _, _ in deployment.workers]
        r = {
            "wall_s": wall,
            "links": len(plan),
            "alive": sum(1 for p in workers if p.poll() is None),
            "workers": len(workers),
            "worker_mem": [smaps(p.pid) for p in workers],
            "worker_peak_mb": [vm_peak_mb(p.pid) for p in workers],
            "horses": list(horses.peaks.values()),
            "failed": failed_jobs(),
            "log_problems": log_problems(deployment),
            # Requests that reached what the refused redirects pointed at: none may.
            "secret_hits": here.hits["secret"] + sum(there.hits.values()),
        }
        outcome: dict[str, Counter] = {k: Counter() for k in EXPECTED}
        for link in Link.objects.all():
            kind = kind_of[link.pk]
            status, words = EXPECTED[kind]
            ok = link.status == status and words in link.error
            outcome[kind]["ok" if ok else f"{link.status}: {link.error[:80]}"] += 1
        r["outcome"] = {k: dict(v) for k, v in outcome.items() if v}
        fetch, hashing = {}, []
        link_media = set(Link.objects.exclude(media=None).values_list("media_id", flat=True))
        for job in jobs:
            if job_kind(job) == "fetch_link":
                fetch.setdefault(kind_of[job.args[0]], []).append(job_seconds(job))
            elif job_kind(job) == "hash_media" and job.args[0] in link_media:
                hashing.append(job_seconds(job))
        r["fetch_s"], r["hash_s"] = fetch, hashing
        copied = Link.objects.filter(url__contains="/copy/")
        r["copies_matched"] = (
            Match.objects.filter(media__links__in=copied).values("media").distinct().count()
        )
        r["others_matched"] = (
            Match.objects.filter(media__links__isnull=False)
            .exclude(media__links__in=copied)
            .count()
        )
        r["copies"] = copied.count()
        media = Media.objects.select_related("report").get(
            report__content_item__platform_id="upload-during-links"
        )
        r["upload_hashed_s"] = (media.hashed_at - media.report.created_at).total_seconds()
        connection.close()
        progress(f"links: {len(plan)} in {wall:.1f} s, outcome {r['outcome']}")
        return r
    finally:
        for server in (here, there):
            server.shutdown()
            server.server_close()


def run(args, pictures: Pictures, base_env: dict, database_url: str, tmp: Path) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from accounts.services import api_token_create
    from moderation.banks.models import HashBank
    from moderation.banks.services import bank_import

    deployment, _, old_name, _ = deploy(database_url, base_env, tmp, tmp / "run", args.web_workers)
    with_scheduler(deployment)
    try:
        platform = User.objects.get(username="bench-platform")  # deploy's, a platform account
        _, token = api_token_create(
            user=platform, name="reports", scopes=["report"], rate_limit_per_minute=2_147_483_647
        )
        bank = HashBank.objects.create(
            name="Bench PDQ", slug="bench-pdq", signal_types=["pdq"], thresholds={"pdq": 31}
        )
        bank_import(bank=bank, text="\n".join(f"pdq {h}" for h in pictures.listed_pdq))
        connection.close()
        call_command("collectstatic", interactive=False, verbosity=0)
        deployment.start_web()
        r = {"intake": intake(args, deployment, token, pictures)}
        r["intake_jobs"] = drain_intake(args, deployment)
        large = r["intake"]["sizes"][max(args.sizes)]["case_ids"][0]
        r["pages"] = pages(args, deployment, token, large, pictures)
        progress("pages measured")
        r["links"] = links(args, deployment, token, pictures)
        return r
    finally:
        undeploy(deployment, old_name, tmp)


# --- report -------------------------------------------------------------------------------------


def report(r: dict, args, commit: str) -> None:
    def p50(values) -> float:
        return pct(values, 50)

    sizes = args.sizes
    i = r["intake"]["sizes"]
    m = r["machine"]
    print(
        f"\n# bench/conversations.py — {datetime.now(UTC):%Y-%m-%d}, commit {commit}, "
        f"{os.cpu_count()} cores; gunicorn {args.web_workers} sync workers, {args.workers} "
        f"rqworkers (`rqworker high default links --with-scheduler`); cores busy during the run "
        f"{m['busy']:.2f} (load average before {m['load_before']:.2f})\n"
    )
    print("| intake: one report of a conversation |" + "".join(f" {s:,} messages |" for s in sizes))
    print("| --- |" + " ---: |" * len(sizes))
    small = i[sizes[0]]
    rows = [
        ("request body (MB)", lambda n, s: f"{s['body_mb']:.2f}"),
        (
            f"latency p50 / max (ms), {args.intake_requests} reports",
            lambda n, s: f"{p50(s['ms']):,.0f} / {max(s['ms']):,.0f}",
        ),
        (
            f"  p50 / {sizes[0]:,} messages' p50",
            lambda n, s: f"{p50(s['ms']) / p50(small['ms']):.1f}",
        ),
        ("  ms per 1,000 messages (p50)", lambda n, s: f"{p50(s['ms']) * 1000 / n:,.0f}"),
        ("SQL statements (one report, in-process)", lambda n, s: f"{s['queries']}"),
        ("  their time (ms)", lambda n, s: f"{s['sql_ms']:,.0f}"),
        ("gunicorn worker RSS before (MB)", lambda n, s: f"{s['rss_before']:.0f}"),
        ("  peak during the reports (VmHWM, MB)", lambda n, s: f"{s['peak']:.0f}"),
        ("  peak − before (MB)", lambda n, s: f"{s['growth']:.0f}"),
        ("  after (MB)", lambda n, s: f"{s['rss_after']:.0f}"),
    ]
    for label, cell in rows:
        print(f"| {label} |" + "".join(f" {cell(n, i[n])} |" for n in sizes))
    top = i[max(sizes)]["top"]
    print(
        f"\nWhere the SQL time of one {max(sizes):,}-message report goes: "
        + "; ".join(f"{ms:,.0f} ms in {n} × `{text.strip()}…`" for ms, n, text in top)
    )
    ij = r["intake_jobs"]
    print(
        f"\nThen {args.workers} rqworkers ran what the reports queued in {ij['wall_s']:.1f} s: "
        + "; ".join(
            f"{k} ×{len(v)} p50 {p50(v) * 1000:.0f} ms, max {max(v) * 1000:.0f} ms"
            for k, v in sorted(ij["jobs"].items())
        )
        + f"; failed jobs {ij['failed']}."
    )

    shown = r["pages"]["shown"]
    for label, pg in r["pages"]["passes"].items():
        print(
            f"\n| case page, reviewer holding the case; {label} (statistics: "
            f"{'yes' if pg['analysed'] else 'none'}, {pg['changed_since']:,} rows changed since) |"
            + "".join(f" {n} |" for n in shown)
        )
        print("| --- |" + " ---: |" * len(shown))
        for part, name in (("page", "case page"), ("htmx", "htmx thread part")):
            t = [pg["timings"][(n, part)] for n in shown]
            q = [pg["sql"][(n, part)] for n in shown]
            print(
                f"| {name} p50 / p95 (ms), {args.rounds} each |"
                + "".join(f" {p50(v):.1f} / {pct(v, 95):.1f} |" for v in t)
            )
            for k in (0, 1):
                print(
                    f"|   p50 / {shown[k]}'s |" + "".join(f" {p50(v) / p50(t[k]):.2f} |" for v in t)
                )
            print("|   SQL statements (in-process) |" + "".join(f" {x['queries']} |" for x in q))
            print(
                "|   SQL time (ms): all / slowest statement |"
                + "".join(f" {x['sql_ms']:.0f} / {x['slowest_ms']:.0f} |" for x in q)
            )
        for key, plan in pg["plans"].items():
            print(f"\nThe {key} statement of '{shown[-1]}', {label} (EXPLAIN ANALYZE, BUFFERS):\n")
            print("\n".join(f"    {line}" for line in plan))

    lk = r["links"]
    print(
        "\n| links, by what the server answers | links | as expected | fetch job p50 / max (s) |"
        "\n| --- | ---: | ---: | ---: |"
    )
    for kind, (status, words) in EXPECTED.items():
        out = lk["outcome"].get(kind)
        if not out:
            continue
        times = lk["fetch_s"].get(kind, [])
        n = sum(out.values())
        expected = f"{status}" + (f" ({words})" if words else "")
        print(
            f"| {kind}: {expected} | {n} | {out.get('ok', 0)} / {n} | "
            + (f"{p50(times):.2f} / {max(times):.2f}" if times else "—")
            + " |"
        )
    wrong = {k: {o: c for o, c in v.items() if o != "ok"} for k, v in lk["outcome"].items()}
    wrong = {k: v for k, v in wrong.items() if v}
    worker_time = sum(sum(v) for v in lk["fetch_s"].values())
    horses = lk["horses"]
    mem = [m for m in lk["worker_mem"] if m]
    rows = [
        (
            "links, from workers started to all fetched or refused, hashed, matched (s)",
            f"{lk['wall_s']:.1f}",
        ),
        ("links / s", f"{lk['links'] / lk['wall_s']:.1f}"),
        ("fetch jobs' time in all (worker-s)", f"{worker_time:.1f}"),
        (
            "hashing jobs of fetched files: n, p50 (ms)",
            f"{len(lk['hash_s'])}, {p50(lk['hash_s']) * 1000:.0f}" if lk["hash_s"] else "0",
        ),
        ("copies of listed pictures matched", f"{lk['copies_matched']} / {lk['copies']}"),
        (
            "a picture reported 2 s after the workers started: hashed after (s)",
            f"{lk['upload_hashed_s']:.1f}",
        ),
        ("other fetched files matched", f"{lk['others_matched']}"),
        ("requests that reached a refused redirect's target", f"{lk['secret_hits']}"),
        ("workers alive at the end", f"{lk['alive']} / {lk['workers']}"),
        (
            "failed jobs; tracebacks or lost horses in worker logs",
            f"{lk['failed']}; {lk['log_problems']}",
        ),
        (
            "worker RSS after / peak (MB)",
            f"{max(m['rss'] for m in mem):.0f} / {max(p for p in lk['worker_peak_mb'] if p):.0f}",
        ),
        (
            "work horse peak RSS / private (MB), largest",
            f"{max(h['rss'] for h in horses):.0f} / {max(h['private'] for h in horses):.0f}"
            if horses
            else "none seen",
        ),
    ]
    print("\n| links through real rqworkers | |\n| --- | ---: |")
    for label, value in rows:
        print(f"| {label} | {value} |")

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print()
    for label, pg in r["pages"]["passes"].items():
        for part in ("page", "htmx"):
            for baseline in shown[:2]:
                base = p50(pg["timings"][(baseline, part)])
                worst = max(p50(pg["timings"][(n, part)]) / base for n in shown[2:])
                print(
                    f"{verdict(worst <= FLAT)}  {label}, {part}: every 10,000-message page "
                    f"within {FLAT}x of the {baseline} one (worst {worst:.2f}x)"
                )
            counts = {pg["sql"][(n, part)]["queries"] for n in shown}
            print(
                f"{verdict(len(counts) == 1)}  {label}, {part}: the same SQL statements for "
                f"every page ({sorted(counts)})"
            )
    growth = i[max(sizes)]["growth"]
    print(
        f"info  intake: gunicorn worker peak − before at {max(sizes):,} messages {growth:.0f} MB "
        f"({growth / max(sizes) * 1024:.1f} KB a message)"
    )
    print(
        f"{verdict(not wrong)}  every link ended as its kind should"
        + (f": {wrong}" if wrong else "")
    )
    print(
        f"{verdict(lk['copies_matched'] == lk['copies'] and not lk['others_matched'])}  "
        "every copy matched its listed picture, nothing else matched"
    )
    print(f"{verdict(lk['secret_hits'] == 0)}  no refused redirect reached its target")
    print(
        f"{verdict(lk['alive'] == lk['workers'] and not lk['failed'] and not lk['log_problems'])}"
        "  no worker died, no job failed"
    )


def main():
    args = parse_args()
    database_url, tmp, base_env = bench_environment(
        "bench/conversations.py", "vigil_bench_conversations", 6
    )
    os.environ["DJANGO_SETTINGS_MODULE"] = base_env["DJANGO_SETTINGS_MODULE"] = SETTINGS
    # The pages' static files, collected as the README's deployment does (step 2, below).
    os.environ["STATIC_ROOT"] = base_env["STATIC_ROOT"] = str(tmp / "static")
    try:
        # Before Django and Redis are set up: the pictures are made in forked processes.
        attachments = (
            ATTACHMENTS * (len(args.sizes) * (args.intake_requests + 1) + 2 * args.web_workers) + 3
        )
        pictures = Pictures(attachments, link_plan(args.links, args.too_slow))
        progress(f"pictures made in {pictures.seconds:.0f} s")
        warnings.filterwarnings("ignore", message="No directory at")
        import django

        django.setup()
        from lib.jobs import get_queue

        redis = get_queue("default").connection
        if redis.dbsize():
            fail(
                f"the Redis database of REDIS_URL holds {redis.dbsize()} keys: give the benchmark "
                "an empty one of its own (it empties it at the end)"
            )
        commit = os.popen(f"git -C {BASE_DIR} rev-parse --short HEAD").read().strip()  # noqa: S605
        load, busy, started = os.getloadavg()[0], machine_busy(), time.monotonic()
        result = run(args, pictures, base_env, database_url, tmp)
        result["machine"] = {
            "load_before": load,
            "busy": (machine_busy() - busy) / (time.monotonic() - started),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(result, args, commit)


if __name__ == "__main__":
    main()
