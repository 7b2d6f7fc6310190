"""Sustained `POST /api/v1/flags` throughput and latency, beside a trivial Django JSON endpoint.

Builds a throwaway database (test_<name> of DATABASE_URL, dropped afterwards) with a platform user
and an API token whose rate limit cannot cap the run, starts gunicorn on a free loopback port with
bench.settings (production settings and middleware; bench/urls.py adds `POST /bench/trivial`, which
parses the JSON body and answers `{"ok": true}`), and loads both endpoints one after the other with
wrk at the same concurrency: a warm-up, then a measured run each. Every flag has its own
(source, external_id) and its own content item, so every request creates a flag and a case; flags
carry no media (the typical automated flag), so they enqueue no jobs and no RQ worker is needed.
Afterwards it checks that every flag answered 201 is in the database. With --floor it also loads
`POST /bench/insert-one` (parse the body, one INSERT, commit, 201): a ceiling, on this setup, for
any endpoint that writes what it accepts to PostgreSQL before answering. With --batch N (default
100; 0 leaves it out) it also loads `POST /api/v1/flags/batch` with N flags per request, each flag
as new as the single ones, and counts flags per second: the batch's rate beside the single flags'
and insert-one's, and every flag it answered checked in the database like the single ones. gunicorn's sync workers
close the connection after each response, so wrk reconnects for every request, for every endpoint
alike.

Besides latency and throughput it prints the CPU each request cost gunicorn, the PostgreSQL
backends (when PostgreSQL runs on this machine; its WAL writer and Redis are not counted) and wrk,
and how busy the machine was: on a shared machine, throughput follows other people's load, CPU per
request much less.

Prints the figures side by side and PASS/FAIL for each target of the issue: flags throughput at
least 50% of the trivial endpoint's, flags p99 under 250 ms, every accepted flag stored; with
--floor, issue 15's restated targets: single flags at least 50% of insert-one's throughput with a
p99 of at most 100 ms; with --batch, the batch's flags per second at least 10 times the single
flags'. The ratios are what matter: absolute figures depend on the machine.

Needs wrk (`apt-get install wrk`): a load generator in C barely competes for CPU with gunicorn and
PostgreSQL on the same machine, where a Python one would take a share that grows with throughput and
flatter the slower endpoint.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_benchintake \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/intake.py [--floor] [--workers 4 \\
    --connections 16 --duration 20 --batch 100]
"""

import argparse
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[1]
SOURCE = "bench-intake"
TARGET_RATIO = 0.5
TARGET_P99_MS = 250.0
# Issue 15's restated targets, against insert-one measured in the same run.
TARGET_FLOOR_RATIO = 0.5
TARGET_FLOOR_P99_MS = 100.0
TARGET_BATCH_RATIO = 10.0

# wrk's script: one request body per call with a unique (source, external_id) and content id,
# statuses counted per thread, the flag ids of the 201 answers collected, everything written as JSON
# to the file named by BENCH_OUT when the run ends.
WRK_SCRIPT = r"""
local threads = {}
local categories = {"spam", "harassment", "violent_extremism", "self_harm", "other"}
local template = '{"source":"%s","external_id":"%s","category":"%s","score":%.3f,'
  .. '"model_version":"bench-1","content":{"id":"%s","type":"post",'
  .. '"url":"https://platform.example/p/%s"}}'

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] .. "-" .. tid
  cap = tonumber(args[2])
  source = args[3]
  -- Flags per request: 0 sends one flag as the body (POST /api/v1/flags), N a batch of N.
  batch = tonumber(args[4])
  n = 0
  answered = 0
  statuses = {}
  flag_ids = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end

local function flag()
  n = n + 1
  local id = prefix .. "-" .. n
  return string.format(template, source, id, categories[n % #categories + 1],
    (n % 1000) / 1000, id, id)
end

function request()
  if batch == 0 then return wrk.format(nil, nil, nil, flag()) end
  local flags = {}
  for i = 1, batch do flags[i] = flag() end
  return wrk.format(nil, nil, nil, '{"flags":[' .. table.concat(flags, ",") .. ']}')
end

function response(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 or (status == 200 and batch > 0) then
    -- A batch answers every flag it stored with its id; an error in its place has none.
    for flag_id in body:gmatch('"flag_id":%s*(%d+)') do
      flag_ids[#flag_ids + 1] = tonumber(flag_id)
    end
  end
  if answered >= cap then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local out = {}
  local function add(s) out[#out + 1] = s end
  add(string.format('{"requests":%d,"duration_us":%d,', summary.requests, summary.duration))
  add(string.format('"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},',
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status))
  add(string.format('"p50_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,',
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
  local statuses, ids, capped = {}, {}, false
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("statuses")) do
      statuses[status] = (statuses[status] or 0) + count
    end
    for _, id in ipairs(t:get("flag_ids")) do ids[#ids + 1] = tostring(id) end
    if t:get("answered") >= t:get("cap") then capped = true end
  end
  local parts = {}
  for status, count in pairs(statuses) do parts[#parts + 1] = string.format('"%d":%d', status, count) end
  add('"statuses":{' .. table.concat(parts, ",") .. '},')
  add('"capped":' .. tostring(capped) .. ',')
  add('"flag_ids":[' .. table.concat(ids, ",") .. ']}')
  local f = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  f:write(table.concat(out))
  f:close()
end
"""


def endpoints(floor: bool, batch: int) -> list[tuple[str, str, int, int]]:
    """(name, path, status expected, flags per request: 0 for one flag as the body) in the order
    they are loaded."""
    return [
        ("trivial", "/bench/trivial", 200, 0),
        *([("insert-one", "/bench/insert-one", 201, 0)] if floor else []),
        ("flags", "/api/v1/flags", 201, 0),
        *([("batch", "/api/v1/flags/batch", 200, batch)] if batch else []),
    ]


# Endpoints that store flags, whose answers carry their ids.
FLAG_ENDPOINTS = ("flags", "batch")


def fail(message: str) -> None:
    print(f"bench/intake.py: {message}", file=sys.stderr)
    sys.exit(2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--duration", type=int, default=20, help="measured seconds per endpoint")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also load POST /bench/insert-one (parse, one INSERT, commit): the floor of any "
        "endpoint that stores what it accepts before answering",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=100,
        help="also load POST /api/v1/flags/batch with this many flags per request (100; 0: not)",
    )
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="cap per run and endpoint (200,000)"
    )
    args = parser.parse_args()
    if not 0 <= args.batch <= 500:
        parser.error("--batch must be 0-500 (the API takes at most 500 flags a request)")
    if not (1 <= args.duration <= 300 and 0 <= args.warmup <= 60):
        parser.error("--duration must be 1-300 s and --warmup 0-60 s")
    if args.threads > args.connections:
        parser.error("--threads may not exceed --connections")
    return args


def check_environment() -> tuple[str, str]:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url or not redis_url:
        fail(
            "set DATABASE_URL (PostgreSQL) and REDIS_URL: the benchmark measures the production "
            "setup, e.g.\n  DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_benchintake "
            "REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/intake.py"
        )
    if urlsplit(database_url).scheme not in ("postgres", "postgresql", "pgsql"):
        fail(f"DATABASE_URL must be a PostgreSQL URL, not {urlsplit(database_url).scheme}://…")
    if shutil.which("wrk") is None:
        fail("wrk is not installed: apt-get install wrk (see this script's docstring for why wrk)")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        fail(f"no gunicorn next to {sys.executable}: run with the project's .venv/bin/python")
    return database_url, str(gunicorn)


def with_database_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def create_token() -> str:
    from django.contrib.auth.models import Group

    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import api_token_create

    user = User.objects.create_user("bench-platform")
    user.groups.add(Group.objects.get(name=Role.PLATFORM))
    # PostgreSQL's integer maximum: the limiter still counts every request, it just never refuses.
    _, token = api_token_create(
        user=user, name="bench", scopes=["flag"], rate_limit_per_minute=2_147_483_647
    )
    return token


def start_gunicorn(gunicorn: str, port: int, workers: int, env: dict, log) -> subprocess.Popen:
    command = [
        gunicorn,
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"gunicorn exited with {process.returncode}:\n{Path(log.name).read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    stop(process)
    fail(f"gunicorn did not answer /healthz with 200 in 30 s:\n{Path(log.name).read_text()}")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy() -> float:
    """CPU seconds all cores of the machine have spent busy (not idle, not waiting for I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS


class CpuProbe:
    """CPU used during a load run by gunicorn's processes, by the PostgreSQL backends serving the
    bench database (when PostgreSQL runs on this machine), by wrk, and by the whole machine. The
    machine is shared: what is busy beyond our processes is someone else's load."""

    def __init__(self, server: subprocess.Popen):
        self.server = server

    def _gunicorn_pids(self) -> list[int]:
        pids = [self.server.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.server.pid:
                    pids.append(int(stat.parent.name))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
        return pids

    @staticmethod
    def _backend_pids() -> list[int]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            pids = [row[0] for row in cursor.fetchall()]
        connection.close()  # not one of the backends measured, and no idle connection left over
        # Only if PostgreSQL runs here: the same pid on this machine must be a postgres process.
        return [
            p
            for p in pids
            if Path(f"/proc/{p}/comm").exists()
            and Path(f"/proc/{p}/comm").read_text().strip() == "postgres"
        ]

    def start(self) -> None:
        self.app = {p: process_cpu(p) for p in self._gunicorn_pids()}
        self.db = {p: process_cpu(p) for p in self._backend_pids()}
        self.wrk = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.machine = machine_busy()

    def stop(self) -> dict:
        wrk = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine = machine_busy() - self.machine

        def used(before: dict, pids: list[int]) -> float:
            return sum(
                max(0.0, process_cpu(p) - before.get(p, 0.0)) for p in set(pids) | set(before)
            )

        return {
            "app": used(self.app, self._gunicorn_pids()),
            "db": used(self.db, self._backend_pids()),
            "wrk": (wrk.ru_utime + wrk.ru_stime) - (self.wrk.ru_utime + self.wrk.ru_stime),
            "machine": machine,
        }


def load(
    url: str, *, seconds: int, prefix: str, args, token: str, workdir: Path, batch: int = 0
) -> dict:
    """One wrk run against `url`; returns wrk's summary as written by WRK_SCRIPT."""
    script = workdir / "intake.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    out = workdir / f"{prefix}.json"
    per_thread_cap = max(1, args.max_requests // args.threads)
    command = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={seconds}s",
        "--timeout=10s",
        f"--script={script}",
        url,
        "--",
        prefix,
        str(per_thread_cap),
        SOURCE,
        str(batch),
    ]
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_OUT": str(out)}
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if completed.returncode != 0 or not out.exists():
        fail(f"wrk failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
    result = json.loads(out.read_text())
    result["statuses"] = {int(k): v for k, v in result["statuses"].items()}
    return result


def summarise(result: dict, expected_status: int, cpu: dict, stores_flags: bool) -> dict:
    seconds = result["duration_us"] / 1e6
    ok = result["statuses"].get(expected_status, 0)
    socket_errors = sum(v for k, v in result["errors"].items() if k != "status")
    answered = max(1, result["requests"])
    # What each answered request stored: flags (a batch stores many), otherwise one row or none.
    items = len(result["flag_ids"]) if stores_flags else ok
    return {
        "cpu_app": cpu["app"] / answered * 1000,
        "cpu_db": cpu["db"] / answered * 1000,
        "cpu_wrk": cpu["wrk"] / answered * 1000,
        "cpu_item": (cpu["app"] + cpu["db"]) / max(1, items) * 1000,
        "busy_ours": (cpu["app"] + cpu["db"] + cpu["wrk"]) / seconds,
        "busy_machine": cpu["machine"] / seconds,
        "rps": ok / seconds,
        "ips": items / seconds,
        "p50": result["p50_us"] / 1000,
        "p99": result["p99_us"] / 1000,
        "max": result["max_us"] / 1000,
        "ok": ok,
        "errors": sum(v for k, v in result["statuses"].items() if k != expected_status)
        + socket_errors,
        "statuses": result["statuses"],
        "capped": result["capped"],
    }


def queries_per_flag(token: str) -> list[str]:
    """The SQL of one `POST /api/v1/flags`, run in this process through the same URLs."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", headers={"authorization": f"Bearer {token}"})
    captured = []
    for i in range(2):  # the first may also record the token's last use
        body = {
            "source": SOURCE,
            "external_id": f"queries-{i}",
            "category": "spam",
            "score": 0.5,
            "content": {"id": f"queries-{i}", "type": "post"},
        }
        with CaptureQueriesContext(connection) as ctx:
            response = client.post("/api/v1/flags", body, content_type="application/json")
        assert response.status_code == 201, response.content
        captured = [q["sql"] for q in ctx.captured_queries]
    return captured


def queries_per_batch(token: str, size: int) -> list[str]:
    """The SQL of one `POST /api/v1/flags/batch` of `size` new flags, run in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", headers={"authorization": f"Bearer {token}"})
    flags = [
        {
            "source": SOURCE,
            "external_id": f"queries-batch-{i}",
            "category": "spam",
            "score": 0.5,
            "content": {"id": f"queries-batch-{i}", "type": "post"},
        }
        for i in range(size)
    ]
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            "/api/v1/flags/batch", {"flags": flags}, content_type="application/json"
        )
    assert response.status_code == 200, response.content
    assert all(r.get("created") for r in response.json()["results"]), response.content
    return [q["sql"] for q in ctx.captured_queries]


def main():
    args = parse_args()
    database_url, gunicorn = check_environment()
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # A key for this run only: the bench database is thrown away with everything signed by it.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    sys.path.insert(0, str(BASE_DIR))

    # No collectstatic here, and the JSON endpoints serve no static file: whitenoise's warning about
    # the missing STATIC_ROOT is noise.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()

    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    server = None
    try:
        token = create_token()
        env = {
            **os.environ,
            "DATABASE_URL": with_database_name(database_url, connection.settings_dict["NAME"]),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
        }
        connection.close()
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="vigil-bench-intake-") as tmp:
            workdir = Path(tmp)
            with open(workdir / "gunicorn.log", "w") as log:
                server = start_gunicorn(gunicorn, port, args.workers, env, log)
                probe = CpuProbe(server)
                results, accepted_ids = {}, []
                for name, path, expected, batch in endpoints(args.floor, args.batch):
                    url = f"http://127.0.0.1:{port}{path}"
                    runs = [("warmup", args.warmup), ("run", args.duration)]
                    for phase, seconds in runs:
                        if seconds == 0:
                            continue
                        probe.start()
                        result = load(
                            url,
                            seconds=seconds,
                            prefix=f"{name}-{phase}",
                            args=args,
                            token=token,
                            workdir=workdir,
                            batch=batch,
                        )
                        cpu = probe.stop()
                        if name in FLAG_ENDPOINTS:
                            accepted_ids += result["flag_ids"]
                            answered = result["statuses"].get(expected, 0) * max(1, batch)
                            if len(result["flag_ids"]) != answered:
                                fail(f"could not read a flag id for every flag {name} answered")
                    results[name] = summarise(result, expected, cpu, name in FLAG_ENDPOINTS)
                stop(server)
                server = None
            errors_logged = (workdir / "gunicorn.log").read_text().count("Traceback")

        from moderation.outbox.models import OutboxJob
        from reports.models import Flag

        stored = Flag.objects.filter(source=SOURCE).count()
        found = Flag.objects.filter(source=SOURCE, pk__in=accepted_ids).count()
        outbox = OutboxJob.objects.count()
        queries = queries_per_flag(token)
        batch_queries = queries_per_batch(token, args.batch) if args.batch else []

        trivial, flags = results["trivial"], results["flags"]
        ratio = flags["rps"] / trivial["rps"]
        print(
            f"gunicorn config.wsgi (bench.settings), {args.workers} sync workers on "
            f"{os.cpu_count()} cores; wrk {args.threads} threads, {args.connections} connections; "
            f"{args.warmup} s warm-up + {args.duration} s per endpoint; PostgreSQL "
            f"{connection.pg_version // 10000}, Redis for the rate limiter"
            + (f"; batch: {args.batch} flags per request" if args.batch else "")
        )
        names = list(results)
        print(f"{'':24}" + "".join(f"{name:>12}" for name in names))
        rows = [
            ("requests/s", "rps", "{:12.1f}"),
            ("flags (or rows) / s", "ips", "{:12.1f}"),
            ("p50 (ms)", "p50", "{:12.2f}"),
            ("p99 (ms)", "p99", "{:12.2f}"),
            ("max (ms)", "max", "{:12.2f}"),
            ("answered (200/201)", "ok", "{:12,}"),
            ("errors", "errors", "{:12,}"),
            ("gunicorn CPU/req (ms)", "cpu_app", "{:12.2f}"),
            ("PostgreSQL CPU/req (ms)", "cpu_db", "{:12.2f}"),
            ("wrk CPU/req (ms)", "cpu_wrk", "{:12.2f}"),
            ("app+PG CPU/flag (ms)", "cpu_item", "{:12.2f}"),
            ("cores busy: ours", "busy_ours", "{:12.2f}"),
            ("cores busy: machine", "busy_machine", "{:12.2f}"),
        ]
        for label, key, fmt in rows:
            print(f"{label:24}" + "".join(fmt.format(results[n][key]) for n in names))
        print(
            f"{'throughput / trivial':24}"
            + "".join(f"{results[n]['rps'] / trivial['rps']:12.2f}" for n in names)
        )
        # Flags per second side by side: what a flag costs, one per request or many.
        for base in ("insert-one", "flags"):
            if base in results:
                print(
                    f"{'flags/s / ' + base:24}"
                    + "".join(f"{results[n]['ips'] / results[base]['ips']:12.2f}" for n in names)
                )
        for name, r in results.items():
            if r["capped"]:
                print(f"warning: {name} hit --max-requests; its requests/s is a lower bound")
            if r["errors"]:
                print(f"{name} statuses: {r['statuses']}")
        if errors_logged:
            print(f"warning: gunicorn logged {errors_logged} tracebacks")
        print(
            f"flags accepted (201, or in a batch's 200; warm-up included): {len(accepted_ids):,}; "
            f"with their id in the database: {found:,}; "
            f"flag rows: {stored:,}; outbox jobs: {outbox}"
        )
        print(f"SQL statements per POST /api/v1/flags (BEGIN, COMMIT included): {len(queries)}")
        if batch_queries:
            print(
                f"SQL statements per POST /api/v1/flags/batch of {args.batch} new flags: "
                f"{len(batch_queries)}"
            )
        if os.environ.get("BENCH_SHOW_QUERIES"):
            for sql in queries + batch_queries:
                print(f"  {sql[:160]}")

        def verdict(ok: bool) -> str:
            return "PASS" if ok else "FAIL"

        print(
            f"{verdict(ratio >= TARGET_RATIO)}  flags throughput >= {TARGET_RATIO:.0%} of trivial "
            f"({ratio:.0%})"
        )
        print(
            f"{verdict(flags['p99'] < TARGET_P99_MS)}  flags p99 < {TARGET_P99_MS:.0f} ms "
            f"({flags['p99']:.1f} ms)"
        )
        if "insert-one" in results:
            floor = results["insert-one"]
            share = flags["ips"] / floor["ips"]
            print(
                f"{verdict(share >= TARGET_FLOOR_RATIO)}  flags throughput >= "
                f"{TARGET_FLOOR_RATIO:.0%} of insert-one ({share:.0%})"
            )
            print(
                f"{verdict(flags['p99'] <= TARGET_FLOOR_P99_MS)}  flags p99 <= "
                f"{TARGET_FLOOR_P99_MS:.0f} ms ({flags['p99']:.1f} ms)"
            )
        if "batch" in results:
            times = results["batch"]["ips"] / flags["ips"]
            print(
                f"{verdict(times >= TARGET_BATCH_RATIO)}  batch flags/s >= "
                f"{TARGET_BATCH_RATIO:g}x single flags' ({times:.1f}x: "
                f"{results['batch']['ips']:,.0f} against {flags['ips']:,.0f})"
            )
        # Rows may exceed answers (a request in flight when wrk stopped), never the other way.
        every = found == len(set(accepted_ids)) == len(accepted_ids) <= stored
        print(f"{verdict(every)}  every accepted flag is in the database")
    finally:
        stop(server)
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
