"""The hash-exchange sync as deployed: a real `manage.py rqworker` syncing a bank of 100,000 and
1,000,000 PDQ hashes from a Vigil-style incremental feed, on PostgreSQL + Redis.

Programmes' lists are large (StopNCII's and NCMEC's run to millions of hashes): this measures what
a first sync, an incremental one and a sync killed mid-way cost the way Vigil runs them
(moderation/exchanges/sync.py through the `sync_exchange` job, the generic feed client of
moderation/exchanges/clients/feed.py in "incremental" mode), beside the file importer.

This process serves the feeds: a plain HTTP server on 127.0.0.1 speaking the Vigil incremental
JSON-lines protocol the client reads (`?checkpoint=<n>`, the next one in `X-Vigil-Checkpoint`,
`X-Vigil-More`), `--page-items` (10,000) changes a response, one PDQ hash an item. For each size, on
a throwaway PostgreSQL database (test_<name> of DATABASE_URL, migrated, dropped afterwards, even
on failure) and the Redis database REDIS_URL names (it must be empty; it is emptied after each
size):

1. **First full sync.** An exchange (`https_feed`, incremental) fills an empty bank: the sync is
   asked for (`exchange_sync_request`, "Sync now") while one fresh `manage.py rqworker high default`
   (the class settings.RQ names) waits. Wall time from the request to the sync's `finished_at`,
   the job's own time (`started_at` → `finished_at`), pages, entries/s; the memory of the process
   that ran the job (VigilWorker forks a work horse for every job but the hashing one: the horse's
   VmHWM and its largest private memory, sampled every 50 ms from /proc, and the worker's own
   VmHWM); the database size it added. The job goes on past the sync's `finished_at`: a sync
   that added INDEX_SNAPSHOT_FOLD_AT entries or more analyses the tables after its last commit
   (the RQ job's end − `finished_at`, reported apart). Then the jobs it queued (one rematch of
   all it added and, from INDEX_SNAPSHOT_FOLD_AT, an index snapshot per signal type), each
   kind's own time, until the queues are idle.
2. **Incremental syncs.** 1,000 changes are appended to the feed (500 new items, 500 withdrawals
   of items spread through the list) and synced the same way; then a sync with nothing new. The
   bank must then hold exactly the expected hashes (count, no duplicates, digest of the values).
3. **In this process**, for the reading: the whole feed fetched and parsed by the client alone
   (no database), and a sync of `--profile-pages` more pages of new items onto the full bank
   called here, with every SQL statement timed by kind (execute_wrapper), the commits and the
   fetching timed apart: what a page costs and what dominates; then one more page under cProfile,
   to name where the Python time goes (shares only: the profiler inflates it).
4. **Killed and resumed.** A second exchange fills a second bank (other hashes) from a full list;
   when half its pages are applied the worker and its work horse are SIGKILLed; the dead worker's
   lease is expired by hand (in production it runs out after LEASE_SECONDS, 15 minutes), a fresh
   worker takes the sync over. Time before the kill, time of the resumed sync, pages fetched twice;
   the bank must hold exactly the list: count, no duplicates, digest, one EntrySource an item.
5. **For comparison**, on a fresh database of its own: the same list as a python-threatexchange CSV
   through `manage.py import_hashes --bank ...` (COPY-based): time, entries/s, peak memory, the
   database size it added.

A full sync that runs past `--sync-timeout` (900 s) is stopped and the size reported as not
reached, with the entries it applied and its rate. Prints markdown tables, sizes side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench_exchanges \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/exchange_sync.py \\
        [--sizes 100000,1000000]
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
import urllib.parse
import warnings
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.pipeline import (  # noqa: E402
    LUT,
    bench_environment,
    children,
    database_mb,
    deploy,
    epoch,
    failed_jobs,
    finished_jobs,
    job_kind,
    progress,
    queues_idle,
    smaps,
    timed_import,
    undeploy,
    vm_peak_mb,
)

BANK, RESUMED_BANK, IMPORT_BANK = "bench-exchange", "bench-exchange-resumed", "bench-import"
LABELS = ["bench"]
WORKER_CLASS = "config.worker.VigilWorker"  # set from settings.RQ once Django is set up


def fail(message: str) -> None:
    raise SystemExit(f"bench/exchange_sync.py: {message}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="list sizes, comma-separated")
    parser.add_argument("--page-items", type=int, default=10_000, help="changes a response")
    parser.add_argument("--changes", type=int, default=1000, help="incremental changes (1,000)")
    parser.add_argument(
        "--profile-pages", type=int, default=5, help="pages synced in this process, timed (5)"
    )
    parser.add_argument(
        "--sync-timeout", type=int, default=900, help="seconds a full sync may take (900)"
    )
    parser.add_argument(
        "--import-timeout", type=int, default=1500, help="seconds the import may take (1500)"
    )
    args = parser.parse_args()
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not args.sizes or min(args.sizes) < 2 * args.page_items or args.changes < 2:
        parser.error("each size at least two pages; at least 2 changes")
    return args


# --- the feeds --------------------------------------------------------------------------------


def random_pdq(n: int, seed: int) -> list[bytes]:
    """`n` random PDQ hashes, lower-case hex."""
    rng = np.random.default_rng(seed)
    hexes = LUT[rng.integers(0, 256, (n, 32), dtype=np.uint8)].reshape(n, 64)
    return [bytes(h) for h in hexes.view("S64").ravel()]


def change(item: str, value: bytes, *, deleted: bool = False) -> bytes:
    """One JSON line of a Vigil feed (clients/feed.py `_change`)."""
    line = {"id": item, "signal_type": "pdq", "signal": value.decode(), "labels": LABELS}
    if deleted:
        line["deleted"] = True
    return (json.dumps(line) + "\n").encode()


class Feeds:
    """The feeds this process serves, by name: each a log of changes (JSON lines); a checkpoint is
    a position in the log. Counts the requests each one answered."""

    def __init__(self, page_items: int):
        self.page_items = page_items
        self.logs: dict[str, list[bytes]] = {}
        self.requests: dict[str, int] = defaultdict(int)
        self.url = ""

    def page(self, name: str, start: int) -> tuple[bytes, int, bool]:
        log = self.logs[name]
        chunk = log[start : start + self.page_items]
        following = start + len(chunk)
        return b"".join(chunk), following, following < len(log)


def serve(feeds: Feeds) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 (http.server's name)
            path, _, query = self.path.partition("?")
            name = path.strip("/").removesuffix("/changes")
            if name not in feeds.logs:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            feeds.requests[name] += 1
            start = int(urllib.parse.parse_qs(query).get("checkpoint", ["0"])[0])
            body, following, more = feeds.page(name, start)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("X-Vigil-Checkpoint", str(following))
            self.send_header("X-Vigil-More", "true" if more else "false")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    feeds.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- processes --------------------------------------------------------------------------------


class Watch:
    """Every 50 ms: the worker's and each of its children's (work horses') VmHWM and resident
    memory (smaps_rollup), the largest reading of each, and when each child was first seen."""

    def __init__(self, pid: int):
        self.pid, self.peaks = pid, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(0.05):
            for pid in [self.pid, *children(self.pid)]:
                m, hwm = smaps(pid), vm_peak_mb(pid)
                if m is None or hwm is None:
                    continue
                peak = self.peaks.setdefault(pid, {**m, "hwm": hwm, "first": time.time()})
                for k, v in {**m, "hwm": hwm}.items():
                    peak[k] = max(peak[k], v)

    def horse(self) -> dict | None:
        """The first child seen: the work horse that ran the sync job."""
        horses = [p for pid, p in self.peaks.items() if pid != self.pid]
        return min(horses, key=lambda p: p["first"]) if horses else None


class Worker:
    """One `manage.py rqworker high default` (not in burst mode: it waits for jobs, as deployed)."""

    def __init__(self, deployment, tag: str):
        from rq import Worker as RQWorker

        from lib.jobs import get_queue

        self.deployment = deployment
        ((self.name, _),) = deployment.start_workers(1, tag, None)
        self.process = deployment.workers[-1][0]
        redis = get_queue("default").connection
        deadline = time.monotonic() + 120
        while not any(w.name == self.name for w in RQWorker.all(connection=redis)):
            deployment.check_workers()
            if time.monotonic() > deadline:
                fail(f"worker {self.name} did not register in 120 s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, the work horse first (as a machine going down would: nothing cleans up)."""
        for pid in [*children(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        self.deployment.workers = [w for w in self.deployment.workers if w[0] is not self.process]


def run_sync(exchange, user, worker: Worker, timeout: float, *, kill_after_pages: int = 0):
    """Ask for a sync ("Sync now") and wait for it while `worker` runs it: its record, seconds
    from the request to its end (or to the kill), and the memory readings. With
    `kill_after_pages`, the worker is killed once the sync has applied that many pages."""
    from django.db import connection

    from moderation.exchanges.models import ExchangeSync
    from moderation.exchanges.services import exchange_sync_request

    before = set(ExchangeSync.objects.filter(exchange=exchange).values_list("pk", flat=True))
    running = ExchangeSync.objects.filter(exchange=exchange, status="running").first()
    t0 = time.time()
    exchange_sync_request(exchange=exchange, user=user)
    r = {"killed": False, "timed_out": False}
    with Watch(worker.process.pid) as watch:
        while True:
            sync = (
                ExchangeSync.objects.filter(pk=running.pk).first()
                if running
                else ExchangeSync.objects.filter(exchange=exchange).exclude(pk__in=before).first()
            )
            if sync is not None and sync.status != ExchangeSync.Status.RUNNING:
                break
            if kill_after_pages and sync is not None and sync.pages >= kill_after_pages:
                worker.kill()
                r["killed"], r["seconds"] = True, time.time() - t0
                break
            if time.time() - t0 > timeout:
                worker.kill()
                r["timed_out"], r["seconds"] = True, time.time() - t0
                break
            worker.deployment.check_workers()
            time.sleep(0.1)
    if sync is None:
        fail(f"no sync started within {time.time() - t0:.0f} s")
    sync.refresh_from_db()
    if sync.status == ExchangeSync.Status.FAILED:
        fail(f"the sync failed: {sync.error[:2000]}")
    if sync.finished_at:
        r["seconds"] = epoch(sync.finished_at) - t0
        r["job_s"] = (sync.finished_at - sync.started_at).total_seconds()
    r["horse"], r["worker"] = watch.horse(), watch.peaks.get(worker.process.pid)
    r["sync"] = {
        k: getattr(sync, k) for k in ("pk", "pages", "added", "updated", "removed", "attempts")
    }
    connection.close()
    return r


def wait_idle(timeout: float = 3600) -> float:
    """Until the queues are empty and no job runs; seconds waited."""
    t = time.perf_counter()
    while not queues_idle():
        if time.perf_counter() - t > timeout:
            fail(f"the queues were still busy after {timeout:.0f} s")
        time.sleep(0.2)
    return time.perf_counter() - t


# --- checks and figures -----------------------------------------------------------------------


def digest(values) -> str:
    return hashlib.md5(b",".join(sorted(values))).hexdigest()  # noqa: S324 - a checksum


def bank_state(bank_id: int, exchange_id: int) -> dict:
    """What the bank holds: rows, live rows, distinct live values, the live values' digest, and
    the exchange's EntrySource rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE removed_at IS NULL),
                   count(DISTINCT value) FILTER (WHERE removed_at IS NULL),
                   md5(string_agg(value, ',' ORDER BY value COLLATE "C")
                       FILTER (WHERE removed_at IS NULL))
            FROM moderation_bankentry WHERE bank_id = %s
            """,
            [bank_id],
        )
        rows, live, distinct, md5 = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM moderation_entrysource WHERE exchange_id = %s", [exchange_id]
        )
        sources = cursor.fetchone()[0]
    return {"rows": rows, "live": live, "distinct": distinct, "digest": md5, "sources": sources}


def table_mb(*tables: str) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        out = {}
        for table in tables:
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            out[table.removeprefix("moderation_")] = cursor.fetchone()[0] / 2**20
    return out


def statement_kind(sql: str) -> str:
    verb = sql.lstrip().split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
    name = table.group(1).removeprefix("moderation_") if table else ""
    return f"{verb} {name}".strip()


def profile_sync(exchange) -> dict:
    """exchange_sync called in this process: every SQL statement timed by kind, the commits and
    the fetching (HTTP and the client's parsing) apart."""
    from django.db import connection

    from moderation.exchanges import sync as sync_module

    statements = defaultdict(lambda: [0, 0.0])
    clock = {"fetch": 0.0, "commit": 0.0}

    def timed(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            s = statements[statement_kind(sql)]
            s[0] += 1
            s[1] += time.perf_counter() - t

    def timed_pages(pages):
        while True:
            t = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                clock["fetch"] += time.perf_counter() - t
            yield page

    class TimedClient:
        def __init__(self, client):
            self.client = client
            self.complete_list = False

        def fetch(self, checkpoint):
            return timed_pages(iter(self.client.fetch(checkpoint)))

    real_client_for, real_commit = sync_module.client_for, connection._commit
    connection.ensure_connection()

    def commit():
        t = time.perf_counter()
        try:
            return real_commit()
        finally:
            clock["commit"] += time.perf_counter() - t

    sync_module.client_for = lambda exchange: TimedClient(real_client_for(exchange))
    connection._commit = commit
    try:
        with connection.execute_wrapper(timed):
            t = time.perf_counter()
            sync = sync_module.exchange_sync(exchange_id=exchange.pk, trigger="manual")
            total = time.perf_counter() - t
    finally:
        sync_module.client_for = real_client_for
        del connection._commit  # the bound method of the class again
    if sync.status != "succeeded":
        fail(f"the profiled sync failed: {sync.error[:2000]}")
    return {
        "seconds": total,
        "pages": sync.pages,
        "added": sync.added,
        "fetch_s": clock["fetch"],
        "commit_s": clock["commit"],
        "statements": {k: {"n": n, "s": s} for k, (n, s) in statements.items()},
    }


# Functions whose cumulative time the cProfile pass reports, by (file suffix, name).
PROFILED = (
    ("exchanges/sync.py", "_apply_page"),
    ("exchanges/sync.py", "_parse"),
    ("exchanges/sync.py", "_unlist"),
    ("banks/hashlists.py", "parse_line"),
    ("exchanges/clients/feed.py", "_incremental"),
    ("exchanges/clients/feed.py", "_change"),
    ("django/db/models/query.py", "bulk_create"),
    ("django/db/models/query.py", "update"),
    ("django/db/models/query.py", "__iter__"),
    ("django/db/models/base.py", "__init__"),
    ("django/db/models/sql/compiler.py", "as_sql"),
    ("django/db/backends/utils.py", "execute"),
)


def cprofile_sync(exchange) -> dict:
    """exchange_sync called in this process under cProfile: the cumulative time of PROFILED and
    the functions with the most time of their own (inflated by the profiler: shares, not ms)."""
    import cProfile
    import pstats

    from django.db import connection

    from moderation.exchanges.sync import exchange_sync

    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    sync = exchange_sync(exchange_id=exchange.pk, trigger="manual")
    profiler.disable()
    total = time.perf_counter() - t
    connection.close()
    stats = pstats.Stats(profiler).stats
    cumulative, own = {}, []
    for (path, _line, name), (_cc, calls, tottime, cumtime, _callers) in stats.items():
        for suffix, wanted in PROFILED:
            if name == wanted and path.endswith(suffix):
                key = f"{suffix.rsplit('/', 1)[-1]}:{name}"
                n, c = cumulative.get(key, (0, 0.0))
                cumulative[key] = (n + calls, c + cumtime)
        where = "/".join(Path(path).parts[-2:]) if "/" in path else path
        own.append((tottime, calls, f"{where}:{name}"))
    own.sort(reverse=True)
    return {
        "seconds": total,
        "pages": sync.pages,
        "cumulative": {k: {"n": n, "s": c} for k, (n, c) in cumulative.items()},
        "own": [{"s": t, "n": n, "where": w} for t, n, w in own[:12]],
    }


def fetch_alone(exchange) -> dict:
    """The client reading the whole feed from the start, nothing applied: HTTP and parsing."""
    from moderation.exchanges.clients import client_for

    t, pages, items = time.perf_counter(), 0, 0
    for page in client_for(exchange).fetch({}):
        pages, items = pages + 1, items + len(page.updates)
    return {"seconds": time.perf_counter() - t, "pages": pages, "items": items}


# --- one size ---------------------------------------------------------------------------------


def run_size(size: int, args, feeds: Feeds, base_env: dict, database_url: str, tmp: Path):
    from django.db import connection

    from accounts.models import User
    from lib.jobs import get_queue
    from moderation.banks.models import HashBank
    from moderation.exchanges.models import Exchange, ExchangeSync

    r = {"size": size, "pages_expected": -(-size // args.page_items)}
    main, resumed = f"main-{size}", f"resumed-{size}"
    values = random_pdq(size, seed=size)
    feeds.logs[main] = [change(f"a{n}", v) for n, v in enumerate(values)]

    deployment, _token, old_name, r["migrate_s"] = deploy(
        database_url, base_env, tmp, tmp / f"sync-{size}", 0
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            r["autovacuum"] = cursor.fetchone()[0]
            cursor.execute("SHOW shared_buffers")
            r["shared_buffers"] = cursor.fetchone()[0]
        user = User.objects.create_user("bench-supervisor")

        def exchange_for(slug: str, feed: str):
            bank = HashBank.objects.create(
                name=slug, slug=slug, signal_types=["pdq"], thresholds={"pdq": 31}
            )
            return Exchange.objects.create(
                name=slug,
                slug=slug,
                kind=Exchange.Kind.HTTPS_FEED,
                bank=bank,
                url=f"{feeds.url}/{feed}/changes",
                options={"mode": "incremental"},
                sync_every_minutes=0,
            )

        exchange = exchange_for(BANK, main)
        worker = Worker(deployment, f"{size}-a")

        # 1. The first full sync.
        db_before = database_mb()
        full = run_sync(exchange, user, worker, args.sync_timeout)
        r["full"] = full
        if full["timed_out"]:
            state = bank_state(exchange.bank_id, exchange.pk)
            r["skipped"] = (
                f"the full sync was stopped after {full['seconds']:.0f} s with "
                f"{state['live']:,} of {size:,} entries applied "
                f"({state['live'] / full['seconds']:,.0f} entries/s)"
            )
            return r
        r["full_db_added_mb"] = database_mb() - db_before
        r["full_tables_mb"] = table_mb("moderation_bankentry", "moderation_entrysource")
        progress(f"full sync: {json.dumps(full, default=str)}")
        seen = {j.id for j in finished_jobs() if job_kind(j) != "sync_exchange"}
        r["after_full_s"] = wait_idle()
        r["after_full_jobs"], r["after_full_job_s"] = defaultdict(int), defaultdict(float)
        finished_at = epoch(ExchangeSync.objects.get(pk=full["sync"]["pk"]).finished_at)
        for job in finished_jobs():
            if job.id in seen or not (job.started_at and job.ended_at):
                continue
            if job_kind(job) == "sync_exchange":
                if epoch(job.started_at) <= finished_at <= epoch(job.ended_at):
                    # What the job did after the sync's end: the final ANALYZE (after commit).
                    r["full_tail_s"] = epoch(job.ended_at) - finished_at
                continue
            r["after_full_jobs"][job_kind(job)] += 1
            r["after_full_job_s"][job_kind(job)] += epoch(job.ended_at) - epoch(job.started_at)
        progress(
            f"jobs after the full sync: {dict(r['after_full_jobs'])} "
            f"{dict(r['after_full_job_s'])}, {r['after_full_s']:.1f} s; "
            f"sync job tail {r.get('full_tail_s')}"
        )

        # 2. Incremental: additions and withdrawals, then nothing new.
        rng = np.random.default_rng(size + 1)
        added_values = random_pdq(args.changes // 2, seed=size + 2)
        withdrawn = sorted(int(n) for n in rng.choice(size, args.changes // 2, replace=False))
        log = feeds.logs[main]
        for k, (n, v) in enumerate(zip(withdrawn, added_values, strict=True)):
            log.append(change(f"a{size + k}", v))
            log.append(change(f"a{n}", values[n], deleted=True))
        r["incremental"] = run_sync(exchange, user, worker, args.sync_timeout)
        wait_idle()
        r["nothing_new"] = run_sync(exchange, user, worker, args.sync_timeout)
        gone = set(withdrawn)
        expected = [v for n, v in enumerate(values) if n not in gone] + added_values
        r["incremental_state"] = state = bank_state(exchange.bank_id, exchange.pk)
        r["incremental_ok"] = (
            state["live"] == state["distinct"] == len(expected)
            and state["rows"] == size + len(added_values)
            and state["digest"] == digest(expected)
            and state["sources"] == len(expected)
        )
        progress(
            f"incremental: {r['incremental']['seconds']:.2f} s, nothing new "
            f"{r['nothing_new']['seconds']:.2f} s; bank {state}, ok {r['incremental_ok']}"
        )
        wait_idle()
        deployment.stop_workers()

        # 3. In this process: fetching alone, and a sync of more pages, timed by statement.
        exchange.refresh_from_db()
        r["fetch_alone"] = fetch_alone(exchange)
        base = size + len(added_values)
        more = random_pdq(args.profile_pages * args.page_items, seed=size + 3)
        log += [change(f"a{base + k}", v) for k, v in enumerate(more)]
        r["profile"] = profile_sync(exchange)
        connection.close()
        more = random_pdq(args.page_items, seed=size + 5)
        base += args.profile_pages * args.page_items
        log += [change(f"a{base + k}", v) for k, v in enumerate(more)]
        r["cprofile"] = cprofile_sync(exchange)
        # Its rematch jobs (no media was received, nothing to match) and index snapshot jobs (the
        # next worker takes a snapshot before its first fork anyway).
        get_queue("default").empty()
        progress(f"fetch alone {r['fetch_alone']}; profile {json.dumps(r['profile'])[:1500]}")

        # 4. Killed half-way through a full sync, then resumed by a fresh worker.
        resumed_values = random_pdq(size, seed=size + 4)
        feeds.logs[resumed] = [change(f"r{n}", v) for n, v in enumerate(resumed_values)]
        other = exchange_for(RESUMED_BANK, resumed)
        worker = Worker(deployment, f"{size}-b")
        half = r["pages_expected"] // 2
        killed = run_sync(other, user, worker, args.sync_timeout, kill_after_pages=half)
        if not killed["killed"]:
            fail(f"the sync to be killed was not (it ended first): {killed}")
        r["killed"] = killed
        r["killed_state"] = bank_state(other.bank_id, other.pk)
        Exchange.objects.filter(pk=other.pk).update(
            sync_lease_until=datetime.now(UTC) - timedelta(seconds=1)
        )
        worker = Worker(deployment, f"{size}-c")
        r["resumed"] = run_sync(other, user, worker, args.sync_timeout)
        r["resumed_requests"] = feeds.requests[resumed]
        state = r["resumed_state"] = bank_state(other.bank_id, other.pk)
        r["resumed_ok"] = (
            state["rows"] == state["live"] == state["distinct"] == state["sources"] == size
            and state["digest"] == digest(resumed_values)
            and r["resumed"]["sync"]["pk"] == killed["sync"]["pk"]
            and r["resumed"]["sync"]["added"] == size
            and r["resumed"]["sync"]["pages"] == r["pages_expected"]
        )
        r["failed_jobs"] = failed_jobs()
        progress(
            f"killed after {killed['seconds']:.1f} s at {r['killed_state']['live']:,} entries; "
            f"resumed {r['resumed']['seconds']:.1f} s; bank {state}, ok {r['resumed_ok']}"
        )
        del feeds.logs[resumed], resumed_values
    finally:
        undeploy(deployment, old_name, tmp)

    # 5. The same list through the file importer, on a fresh database.
    deployment, _token, old_name, _ = deploy(database_url, base_env, tmp, tmp / f"imp-{size}", 0)
    try:
        HashBank.objects.create(
            name=IMPORT_BANK, slug=IMPORT_BANK, signal_types=["pdq"], thresholds={"pdq": 31}
        )
        csv = deployment.workdir / "list.csv"
        with open(csv, "wb") as out:
            out.write(b"signal_type,signal_str,labels\n")
            out.writelines(b"pdq," + v + b",bench\n" for v in values)
        db_before = database_mb()
        connection.close()
        imp = timed_import(deployment, csv, args.import_timeout, bank=IMPORT_BANK)
        csv.unlink()
        if not imp["ok"]:
            fail(f"import_hashes failed: {imp['log'][-1000:]}")
        imp["db_added_mb"] = database_mb() - db_before
        imp["tables_mb"] = table_mb("moderation_bankentry")
        r["import"] = imp
        progress(f"import_hashes: {imp['seconds']:.1f} s, VmHWM {imp['peak_hwm_mb']:.0f} MB")
    finally:
        undeploy(deployment, old_name, tmp)
        del feeds.logs[main]
    return r


# --- report -----------------------------------------------------------------------------------


def report(results: list[dict], args) -> None:
    done = [r for r in results if "skipped" not in r]
    for r in results:
        if "skipped" in r:
            print(f"{r['size']:,} entries: NOT REACHED: {r['skipped']}")
    if not done:
        return
    first = done[0]
    print(
        f"\n# bench/exchange_sync.py — {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores\n\n"
        f"One `manage.py rqworker high default` ({WORKER_CLASS.rsplit('.', 1)[1]}); the feed "
        f"served by the benchmark process over HTTP on 127.0.0.1, {args.page_items:,} changes a "
        f"page, one PDQ hash an item; PostgreSQL autovacuum {first['autovacuum']}, "
        f"shared_buffers {first['shared_buffers']}\n"
    )

    def cols(f):
        return " | ".join(f(r) for r in done)

    def mb(x):
        return f"{x:,.0f}"

    def per_s(n, s):
        return f"{n / s:,.0f}" if s else "—"

    def horse(x):
        h = x["horse"]
        return f"{h['hwm']:,.0f} / {h['private']:,.0f}" if h else "none seen"

    def statement_rows(r):
        p = r["profile"]
        top = sorted(p["statements"].items(), key=lambda kv: -kv[1]["s"])
        return p, top

    header = " | ".join(f"{r['size']:,}" for r in done)
    print(f"| | {header} |\n| --- |" + " ---: |" * len(done))
    rows = [
        ("**first full sync** (rqworker)", lambda r: ""),
        (
            "pages; entries added",
            lambda r: f"{r['full']['sync']['pages']}; {r['full']['sync']['added']:,}",
        ),
        ("request → sync finished (s)", lambda r: f"{r['full']['seconds']:.1f}"),
        ("— inside the job: started → finished (s)", lambda r: f"{r['full']['job_s']:.1f}"),
        (
            "— the job after finished_at: final ANALYZE (s)",
            lambda r: f"{r['full_tail_s']:.1f}" if "full_tail_s" in r else "—",
        ),
        ("entries / s (request → finished)", lambda r: per_s(r["size"], r["full"]["seconds"])),
        (
            "per page (ms, inside the job)",
            lambda r: f"{r['full']['job_s'] / r['full']['sync']['pages'] * 1000:,.0f}",
        ),
        ("work horse peak: VmHWM / private (MB)", lambda r: horse(r["full"])),
        (
            "worker process VmHWM (MB)",
            lambda r: mb(r["full"]["worker"]["hwm"]) if r["full"]["worker"] else "—",
        ),
        ("database added (MB)", lambda r: mb(r["full_db_added_mb"])),
        (
            "— bankentry / entrysource with indexes (MB)",
            lambda r: (
                f"{mb(r['full_tables_mb']['bankentry'])} / {mb(r['full_tables_mb']['entrysource'])}"
            ),
        ),
        (
            "jobs it queued, run after it",
            lambda r: (
                ", ".join(
                    f"{v} {k} ({r['after_full_job_s'][k]:.2f} s)"
                    for k, v in sorted(r["after_full_jobs"].items())
                )
                or "none"
            ),
        ),
        (
            "— worker busy after the sync ended (s)",
            lambda r: f"{r['after_full_s']:.1f}",
        ),
        ("**`import_hashes`**, same list, fresh database", lambda r: ""),
        ("whole command (s)", lambda r: f"{r['import']['seconds']:.1f}"),
        ("entries / s", lambda r: per_s(r["size"], r["import"]["seconds"])),
        ("peak memory, VmHWM (MB)", lambda r: mb(r["import"]["peak_hwm_mb"])),
        ("database added (MB)", lambda r: mb(r["import"]["db_added_mb"])),
        (
            "**sync / import** (time)",
            lambda r: f"**{r['full']['seconds'] / r['import']['seconds']:.1f}×**",
        ),
        (f"**incremental**: {args.changes:,} changes onto the full bank", lambda r: ""),
        (
            "added / removed; pages",
            lambda r: (
                f"{r['incremental']['sync']['added']} / "
                f"{r['incremental']['sync']['removed']}; {r['incremental']['sync']['pages']}"
            ),
        ),
        ("request → sync finished (s)", lambda r: f"{r['incremental']['seconds']:.2f}"),
        ("— inside the job (s)", lambda r: f"{r['incremental']['job_s']:.2f}"),
        (
            "— / the full sync",
            lambda r: f"{r['incremental']['seconds'] / r['full']['seconds']:.4f}",
        ),
        ("nothing new: request → finished (s)", lambda r: f"{r['nothing_new']['seconds']:.2f}"),
        ("— inside the job (s)", lambda r: f"{r['nothing_new']['job_s']:.2f}"),
        (
            "bank after: live / expected, digest",
            lambda r: (
                f"{r['incremental_state']['live']:,}, "
                + ("exact" if r["incremental_ok"] else "**WRONG**")
            ),
        ),
        ("**killed half-way, resumed**", lambda r: ""),
        (
            "killed after (s), at pages applied",
            lambda r: (
                f"{r['killed']['seconds']:.1f}, {r['killed']['sync']['pages']} of "
                f"{r['pages_expected']}"
            ),
        ),
        ("resumed sync: request → finished (s)", lambda r: f"{r['resumed']['seconds']:.1f}"),
        (
            "total (s); / uninterrupted",
            lambda r: (
                f"{r['killed']['seconds'] + r['resumed']['seconds']:.1f}; "
                f"{(r['killed']['seconds'] + r['resumed']['seconds']) / r['full']['seconds']:.2f}"
            ),
        ),
        (
            "pages fetched / applied; attempts",
            lambda r: (
                f"{r['resumed_requests']} / {r['resumed']['sync']['pages']}; "
                f"{r['resumed']['sync']['attempts']}"
            ),
        ),
        (
            "bank after: rows / live / distinct / sources",
            lambda r: "{rows:,} / {live:,} / {distinct:,} / {sources:,}".format(
                **r["resumed_state"]
            ),
        ),
        (
            "— exactly the list (count, no duplicates, digest)",
            lambda r: "yes" if r["resumed_ok"] else "**NO**",
        ),
        ("**in the benchmark process**", lambda r: ""),
        (
            "whole feed fetched and parsed, nothing applied (s)",
            lambda r: f"{r['fetch_alone']['seconds']:.1f} ({r['fetch_alone']['items']:,} items)",
        ),
        (
            "— share of the full sync's job",
            lambda r: f"{r['fetch_alone']['seconds'] / r['full']['job_s']:.0%}",
        ),
    ]
    for label, f in rows:
        print(f"| {label} | {cols(f)} |")

    for r in done:
        p, top = statement_rows(r)
        pages = p["pages"]
        sql_s = sum(v["s"] for v in p["statements"].values())
        rest = p["seconds"] - sql_s - p["commit_s"] - p["fetch_s"]
        print(
            f"\n{p['added']:,} more items ({pages} pages) synced in the benchmark process onto the "
            f"{r['size']:,} bank: {p['seconds']:.1f} s, {p['seconds'] / pages * 1000:,.0f} ms a "
            f"page\n\n| per page | ms | statements |\n| --- | ---: | ---: |"
        )
        print(
            f"| fetch (HTTP + the client's JSON parsing) | {p['fetch_s'] / pages * 1000:,.0f} | |"
        )
        for kind, v in top:
            if v["s"] / p["seconds"] < 0.01:
                continue
            print(f"| `{kind}` | {v['s'] / pages * 1000:,.0f} | {v['n'] / pages:.1f} |")
        small = [v for v in p["statements"].values() if v["s"] / p["seconds"] < 0.01]
        print(
            f"| other statements | {sum(v['s'] for v in small) / pages * 1000:,.0f} | "
            f"{sum(v['n'] for v in small) / pages:.1f} |"
        )
        print(f"| commits | {p['commit_s'] / pages * 1000:,.0f} | |")
        print(f"| Python (parsing hashes, building rows, the ORM) | {rest / pages * 1000:,.0f} | |")
        c = r["cprofile"]
        print(
            f"\nOne more page under cProfile ({c['seconds']:.1f} s with the profiler): share of "
            "the sync's time\n\n| cumulative | share | calls |\n| --- | ---: | ---: |"
        )
        for key, v in sorted(c["cumulative"].items(), key=lambda kv: -kv[1]["s"]):
            print(f"| `{key}` | {v['s'] / c['seconds']:.0%} | {v['n']:,} |")
        print("\n| own time | share | calls |\n| --- | ---: | ---: |")
        for v in c["own"]:
            print(f"| `{v['where']}` | {v['s'] / c['seconds']:.0%} | {v['n']:,} |")
    if any(r.get("failed_jobs") for r in done):
        print(
            "\nfailed jobs: " + ", ".join(f"{r['size']:,}: {r.get('failed_jobs', 0)}" for r in done)
        )


def main():
    global WORKER_CLASS
    args = parse_args()
    database_url, tmp, base_env = bench_environment(
        "bench/exchange_sync.py", "vigil_bench_exchanges", 12
    )
    results = []
    try:
        warnings.filterwarnings("ignore", message="No directory at")
        import django

        django.setup()
        from django.conf import settings

        from lib.jobs import get_queue

        WORKER_CLASS = settings.RQ["WORKER_CLASS"]
        redis = get_queue("default").connection
        if redis.dbsize():
            fail(
                f"the Redis database of REDIS_URL holds {redis.dbsize()} keys: give the benchmark "
                "an empty one of its own (it empties it after each size)"
            )
        feeds = Feeds(args.page_items)
        server = serve(feeds)
        try:
            for size in args.sizes:
                print(f"{size:,} entries ({datetime.now(UTC):%H:%M:%S} UTC)", file=sys.stderr)
                try:
                    results.append(run_size(size, args, feeds, base_env, database_url, tmp))
                except SystemExit as e:
                    # Cleaned up already; the sizes measured before are still reported.
                    print(e, file=sys.stderr)
                    results.append({"size": size, "skipped": f"failed: {str(e)[-500:]}"})
                print(json.dumps(results[-1], default=str)[:4000], file=sys.stderr)
                if "skipped" in results[-1]:
                    break  # a larger size would not be reached either
        finally:
            server.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)


if __name__ == "__main__":
    main()
