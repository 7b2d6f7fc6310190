"""The hashing pipeline as deployed: images flagged over HTTP, hashed and matched by real rqworkers
against a PDQ bank of 10,000, 1,000,000 and 10,000,000 entries loaded with `import_hashes`.

For each size, on its own throwaway PostgreSQL database (test_<name> of DATABASE_URL, migrated,
dropped afterwards, even on failure) and the Redis database REDIS_URL names (it must be empty; it
is emptied after each size), with a private media directory and index directory of its own:

1. a bank (`bench-pdq`, PDQ at threshold 31, raise-priority policy) is loaded by
   `manage.py import_hashes --bank bench-pdq FILE` from a python-threatexchange CSV of random PDQ
   hashes and the PDQ hashes of some generated pictures ("listed"); timed, with its peak memory;
2. the jobs the import queued (the rematch of media already received and, from 20,000 entries,
   the index snapshot) are run by as many `manage.py rqworker high default links --burst`
   processes as there are workers; each job's time comes from RQ's job records; the snapshot must exist after.
   A fresh `manage.py shell -c` process then times `warm_indexes()` and a first match, before and
   after `ANALYZE moderation_bankentry` (what autovacuum does in production; the server's setting
   is printed);
3. gunicorn (`config.wsgi` with bench.settings: the production settings) serves Vigil and a
   platform token flags a batch of 640x480 JPEGs (`POST /api/v1/flags`, base64): distinct
   pictures, one in 7 a resized copy of a listed one, while no worker runs;
4. --workers fresh `manage.py rqworker high default links` processes (the class settings.RQ
   names) drain it: images hashed and matched per second per worker from RQ's job records (each worker's jobs
   over its first job's start to its last job's end: forks, index refreshes and database writes
   included), and each worker's readiness (process start to its first job done);
5. the same images are hashed and matched in this process, one after the other, workers idle:
   what the job computes (`exact_hashes` + `perceptual_hashes`, i.e. `hash_bytes` with the
   dihedral variants, then `find_matches`) through the same index. Per worker / in-process is the
   issue's ratio;
6. copies of other listed pictures are flagged one at a time (workers idle): time from the flag
   (Flag.created_at) to its stored match (Match.matched_at), while the work horses' and worker
   parents' memory is read from /proc/<pid>/smaps_rollup (RSS, PSS, private);
7. under steady traffic (another picture flagged every 0.5 s), one entry is added with
   `bank_import` and copies of its picture are flagged, the first at once: when this process's
   `find_matches` sees it, and which copies were matched, when and by which job;
8. a fresh `manage.py shell -c` process times `warm_indexes()` and a first match again;
9. for comparison, a second batch is drained by Vigil's other worker class (the one settings.RQ
   does not name: VigilForkingWorker, which forks a work horse for every job, or VigilWorker,
   which runs the hashing job in the worker process), and a third is hashed by calling the job's
   service (`media_hash`) in this process: what the fork costs per job, and what the job's
   database writes cost.

Before a size the free disk is checked against what it needs; an import that runs past
--import-timeout is stopped (it is all or nothing) and the size reported as not reached, with how
far it got. Prints a table per size side by side, and PASS/FAIL for the issue's targets at the
largest size measured.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench_pipeline \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/pipeline.py \\
        [--sizes 10000,1000000,10000000 --workers 2 --batch 300 --latency 30]
"""

import argparse
import base64
import io
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from multiprocessing import Pool
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from PIL import Image

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

SOURCE = "bench-pipeline"
BANK = "bench-pdq"
QUEUES = ("high", "default", "links")
# Targets of issue 15, at the largest size.
TARGET_RATIO = 0.80
TARGET_READY_S = 2.0
TARGET_EXTRA_MB = 150.0
TARGET_NEW_ENTRY_S = 10.0
# The worker class deployed (settings.RQ) and the one it is compared with (step 9).
WORKER_CLASSES = ("config.worker.VigilWorker", "config.worker.VigilForkingWorker")
WORKER_CLASS, OTHER_CLASS = WORKER_CLASSES  # set from settings.RQ once Django is set up
# Disk a size needs, per entry: the CSV (~76 B), the bank table and its three indexes with the WAL
# written meanwhile, and the snapshot files (~170 B); plus room for the rest.
DISK_PER_ENTRY = 1100
DISK_SPARE = 4 * 2**30
# Steady traffic while an entry is added: this many other pictures, one every this many seconds,
# the first TRAFFIC_LEAD seconds before the entry is committed.
TRAFFIC, TRAFFIC_INTERVAL, TRAFFIC_LEAD = 24, 0.5, 2.0
LUT = np.array([list(f"{i:02x}".encode()) for i in range(256)], np.uint8)

# Run by `manage.py shell -c` in a fresh process: how long until it can match.
READY_CODE = """
import json, os, time
t0 = time.perf_counter()
from moderation.banks.matching import current_index, find_matches, warm_indexes
t1 = time.perf_counter()
warm_indexes()
t2 = time.perf_counter()
q = json.loads(os.environ["BENCH_QUERY"])
hits = find_matches(pdq_variants=q["variants"], pdq_quality=q["quality"], phash=q["phash"],
                    dhash=q["dhash"])
t3 = time.perf_counter()
index = current_index("pdq")
print(json.dumps({"import_s": t1 - t0, "warm_s": t2 - t1, "first_match_s": t3 - t2,
                  "hits": len(hits), "index": type(index).__name__,
                  "delta": len(getattr(index, "delta", index).entry_ids),
                  "entries": len(index.entry_ids)}))
"""


def fail(message: str) -> None:
    raise SystemExit(f"bench/pipeline.py: {message}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,1000000,10000000", help="bank sizes, comma-separated"
    )
    parser.add_argument("--workers", type=int, default=2, help="rqworker processes (2)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument("--batch", type=int, default=300, help="images flagged before the workers")
    parser.add_argument("--latency", type=int, default=30, help="copies flagged one at a time")
    parser.add_argument(
        "--interval", type=float, default=0.4, help="seconds between the latency flags"
    )
    parser.add_argument(
        "--added", type=int, default=12, help="copies of the added entry's picture flagged (12)"
    )
    parser.add_argument(
        "--added-interval", type=float, default=0.25, help="seconds between those flags (0.25)"
    )
    parser.add_argument(
        "--import-timeout", type=int, default=1500, help="seconds an import may take (1500)"
    )
    args = parser.parse_args()
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not args.sizes or min(args.sizes) < 1000:
        parser.error("--sizes: at least 1,000 entries each")
    return args


def with_database_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def epoch(value) -> float:
    """Seconds since the epoch of a datetime (RQ's are naive UTC in some versions)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def pct(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


# --- pictures ---------------------------------------------------------------------------------


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _listed(seed: int) -> bytes:
    """A listed picture: 1024x768 (its copies are flagged at 640x480)."""
    # bench/hashing.py's photo-like pictures; imported in the pool's processes, since importing
    # it pins this process's numeric libraries to one thread (and the workers' with its env).
    from bench.hashing import photo

    return photo(seed, 1024, 768, 90)


def _copy(original: bytes, shrink: int = 0) -> bytes:
    """A copy of a listed picture as it is flagged: resized to about 640x480, re-encoded."""
    size = (640 - 4 * shrink, 480 - 3 * shrink)
    copy = Image.open(io.BytesIO(original)).resize(size, Image.Resampling.LANCZOS)
    return _jpeg(copy, 85 - shrink)


def _fresh(seed: int) -> bytes:
    from bench.hashing import photo

    return photo(seed, 640, 480, 90)


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


class Pictures:
    """The run's pictures, made once (two processes) and flagged at every size, all distinct:

    - `batch`, `batch_b` and `batch_c`: flagged before the workers start (every 7th a copy of a
      listed picture), hashed by Vigil's worker, by its other worker class, and by the hashing job's
      service called in this process, respectively;
    - `latency`: copies of listed pictures, flagged one at a time;
    - `added`: copies (each resized a little differently) of a picture listed only during the run;
      `traffic`: other pictures flagged every TRAFFIC_INTERVAL s meanwhile, from before it is
      listed (steady traffic: the workers fork jobs all along).

    The listed pictures' PDQ hashes (all but the added one's) go into the bank's CSV."""

    def __init__(self, batch: int, latency: int, added: int):
        copy_at = [i % 7 == 3 for i in range(batch)]
        copies_in_batch = sum(copy_at)
        n_listed = 3 * copies_in_batch + latency + 1
        started = time.perf_counter()
        with Pool(2) as pool:
            originals = pool.map(_listed, range(1_000_000, 1_000_000 + n_listed))
            fresh = pool.map(
                _fresh, range(2_000_000, 2_000_000 + 3 * (batch - copies_in_batch) + TRAFFIC)
            )
        from reports.hashing import perceptual_hashes

        self.listed_pdq = [perceptual_hashes(original).pdq for original in originals]
        copies = [_copy(original) for original in originals[:-1]]
        fresh_iter, copy_iter = iter(fresh), iter(copies)
        self.batch = [next(copy_iter) if c else next(fresh_iter) for c in copy_at]
        self.batch_b = [next(copy_iter) if c else next(fresh_iter) for c in copy_at]
        self.batch_c = [next(copy_iter) if c else next(fresh_iter) for c in copy_at]
        self.latency = [next(copy_iter) for _ in range(latency)]
        self.traffic = [next(fresh_iter) for _ in range(TRAFFIC)]
        self.added = [_copy(originals[-1], shrink) for shrink in range(added)]
        self.added_pdq = self.listed_pdq[-1]
        self.csv_pdq = self.listed_pdq[:-1]
        self.expected_batch_matches = copies_in_batch
        self.seconds = time.perf_counter() - started
        # Every copy must be within PDQ's threshold of its listed picture, or matches would be
        # missing for a reason that is not Vigil's.
        pairs = [*zip(copies, self.listed_pdq, strict=False)]
        pairs += [(copy, self.added_pdq) for copy in self.added]
        far = [1 for copy, h in pairs if _distance(perceptual_hashes(copy).pdq, h) > 31]
        if far:
            fail(f"{len(far)} copies are more than 31 bits from their listed picture")


def write_csv(path: Path, size: int, listed: list[str], seed: int) -> None:
    """python-threatexchange's CSV: `size` PDQ entries, random but for `listed`, spread through."""
    rng = np.random.default_rng(seed)
    positions = {
        int(p): h for p, h in zip(rng.choice(size, len(listed), replace=False), listed, strict=True)
    }
    chunk = 1_000_000
    with open(path, "wb") as out:
        out.write(b"signal_type,signal_str,labels\n")
        for start in range(0, size, chunk):
            n = min(chunk, size - start)
            lines = np.empty((n, 75), np.uint8)
            lines[:, :4] = np.frombuffer(b"pdq,", np.uint8)
            lines[:, 4:68] = LUT[rng.integers(0, 256, (n, 32), dtype=np.uint8)].reshape(n, 64)
            lines[:, 68:] = np.frombuffer(b",bench\n", np.uint8)
            for p, h in positions.items():
                if start <= p < start + n:
                    lines[p - start, 4:68] = np.frombuffer(h.encode(), np.uint8)
            out.write(lines.tobytes())


# --- processes --------------------------------------------------------------------------------


def stop(process: subprocess.Popen | None, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def smaps(pid: int) -> dict | None:
    """Resident memory of a process in MiB: rss, pss, private (clean + dirty), pss_file."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kb = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            kb[name] = int(rest.split()[0])
    if "Rss" not in kb:
        return None
    return {
        "rss": kb["Rss"] / 1024,
        "pss": kb["Pss"] / 1024,
        "private": (kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / 1024,
        "pss_file": kb.get("Pss_File", 0) / 1024,
    }


class HorseSampler:
    """Samples the memory of the worker parents' children (the work horses) every 10 ms: the
    largest reading of each horse."""

    def __init__(self, parents: list[int]):
        self.parents, self.peaks = parents, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(0.01):
            for parent in self.parents:
                for horse in children(parent):
                    m = smaps(horse)
                    if m is None:
                        continue
                    peak = self.peaks.setdefault(horse, m)
                    for k, v in m.items():
                        peak[k] = max(peak[k], v)


class Deployment:
    """gunicorn and the rqworkers of one size, with their logs; everything stopped by close()."""

    def __init__(self, env: dict, workdir: Path, web_workers: int):
        self.env, self.workdir, self.web_workers = env, workdir, web_workers
        self.server = None
        self.workers: list[tuple[subprocess.Popen, str, float]] = []
        self.port = free_port()

    def manage(self, *args: str) -> list[str]:
        return [sys.executable, "manage.py", *args]

    def start_web(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        command = [
            gunicorn,
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.web_workers),
            "--log-level",
            "warning",
        ]
        with open(self.workdir / "gunicorn.log", "w") as log:
            self.server = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                fail(f"gunicorn exited:\n{(self.workdir / 'gunicorn.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(  # noqa: S310 - loopback
                    f"http://127.0.0.1:{self.port}/healthz", timeout=2
                ) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        fail("gunicorn did not answer /healthz with 200 in 60 s")

    def start_workers(self, count: int, tag: str, worker_class: str | None) -> list:
        """`count` fresh `manage.py rqworker high default links` processes; [(name, start time)]."""
        extra = ["--worker-class", worker_class] if worker_class else []
        started = []
        for i in range(count):
            name = f"bench-{tag}-{i}"
            with open(self.workdir / f"{name}.log", "w") as log:
                t0 = time.time()
                process = subprocess.Popen(
                    self.manage("rqworker", *QUEUES, "--name", name, *extra),
                    cwd=BASE_DIR,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.workers.append((process, name, t0))
            started.append((name, t0))
        return started

    def stop_workers(self) -> None:
        for process, _, _ in self.workers:
            stop(process)
        self.workers = []

    def run_burst(self, count: int) -> tuple[float, dict]:
        """`count` burst workers until the queues are empty: seconds until the last exits, and
        each worker's start time by name."""
        started = time.perf_counter()
        procs, names = [], {}
        for i in range(count):
            names[f"bench-burst-{i}"] = time.time()
            with open(self.workdir / f"burst-{i}.log", "w") as log:
                procs.append(
                    subprocess.Popen(
                        self.manage("rqworker", *QUEUES, "--burst", "--name", f"bench-burst-{i}"),
                        cwd=BASE_DIR,
                        env=self.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        try:
            for p in procs:
                if p.wait(timeout=3600) != 0:
                    fail(
                        f"a burst worker exited with {p.returncode}: see {self.workdir}/burst-*.log"
                    )
        finally:
            for p in procs:  # those still running when this was stopped (none once they exit)
                stop(p)
        return time.perf_counter() - started, names

    def check_workers(self) -> None:
        for process, name, _ in self.workers:
            if process.poll() is not None:
                log = (self.workdir / f"{name}.log").read_text()[-3000:]
                fail(f"worker {name} exited with {process.returncode}:\n{log}")

    def close(self) -> None:
        self.stop_workers()
        stop(self.server)
        self.server = None


def post_flags(
    port: int, token: str, images: list[bytes], prefix: str, threads: int, extension: str = "jpg"
) -> list:
    """Flag each image (one flag, one content item, one image each; files named `*.extension`:
    bench/video_pipeline.py flags videos); returns the flag ids."""

    def one(i: int) -> int:
        body = {
            "source": SOURCE,
            "external_id": f"{prefix}-{i}",
            "category": "other",
            "score": 0.9,
            "model_version": "bench-1",
            "content": {"id": f"{prefix}-{i}", "type": "post"},
            "media": [
                {
                    "filename": f"{prefix}-{i}.{extension}",
                    "data_base64": base64.b64encode(images[i]).decode(),
                }
            ],
        }
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"http://127.0.0.1:{port}/api/v1/flags",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as r:  # noqa: S310
            if r.status != 201:
                fail(f"POST /api/v1/flags answered {r.status}")
            return json.loads(r.read())["flag_id"]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(len(images))))


# --- measurements ------------------------------------------------------------------------------


def wait_hashed(flag_ids: list[int], deployment: Deployment, timeout: float) -> None:
    from reports.models import Media

    deadline = time.monotonic() + timeout
    while True:
        left = Media.objects.filter(flag_id__in=flag_ids, hashed_at__isnull=True).count()
        if not left:
            return
        deployment.check_workers()
        if time.monotonic() > deadline:
            fail(f"{left} media still unhashed after {timeout:.0f} s")
        time.sleep(0.2)


def finished_jobs() -> list:
    """Every finished job RQ still holds, over the queues."""
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    from lib.jobs import get_queue

    jobs = []
    for name in QUEUES:
        queue = get_queue(name)
        ids = FinishedJobRegistry(queue=queue).get_job_ids()
        jobs += [j for j in Job.fetch_many(ids, connection=queue.connection) if j is not None]
    return jobs


def job_kind(job) -> str:
    return job.func_name.rsplit(".", 1)[-1]


def failed_jobs() -> int:
    from rq.registry import FailedJobRegistry

    from lib.jobs import get_queue

    return sum(FailedJobRegistry(queue=get_queue(name)).count for name in QUEUES)


def in_process(images: list[bytes]) -> dict:
    """What the hashing job computes, in this process, through the same index."""
    from moderation.banks.matching import find_image_matches, forget_indexes, warm_indexes
    from reports.hashing import exact_hashes, perceptual_hashes

    forget_indexes()
    t = time.perf_counter()
    warm_indexes()
    warm = time.perf_counter() - t

    def one(data: bytes) -> tuple[float, float, int]:
        t0 = time.perf_counter()
        sha256, md5, _ = exact_hashes([data])
        p = perceptual_hashes(data)
        t1 = time.perf_counter()
        hits = find_image_matches(p, md5=md5, sha256=sha256)
        return t1 - t0, time.perf_counter() - t1, len(hits)

    one(images[0])  # first query: pages of the index come in
    started = time.perf_counter()
    results = [one(data) for data in images]
    total = time.perf_counter() - started
    return {
        "warm_s": warm,
        "rate": len(images) / total,
        "hash_ms": statistics.median(r[0] for r in results) * 1000,
        "match_ms": statistics.median(r[1] for r in results) * 1000,
        "match_p95_ms": pct([r[1] * 1000 for r in results], 95),
        "matched": sum(1 for r in results if r[2]),
    }


def in_process_job(flag_ids: list[int]) -> dict:
    """The hashing job's service (`media_hash`: hash, match, store, cluster, audit) called in this
    process for each media, after the first."""
    from moderation.banks.hashing import media_hash
    from reports.models import Media

    ids = list(
        Media.objects.filter(flag_id__in=flag_ids).order_by("pk").values_list("pk", flat=True)
    )
    media_hash(media_id=ids[0])
    times = []
    for media_id in ids[1:]:
        t = time.perf_counter()
        media_hash(media_id=media_id)
        times.append(time.perf_counter() - t)
    return {"rate": len(times) / sum(times), "ms": statistics.median(times) * 1000}


def hashes_query(data: bytes) -> dict:
    from reports.hashing import perceptual_hashes

    p = perceptual_hashes(data)
    return {
        "variants": list(p.pdq_dihedral),
        "quality": p.pdq_quality,
        "phash": p.phash,
        "dhash": p.dhash,
    }


def fresh_ready(env: dict, query: dict, code: str = READY_CODE) -> dict:
    """Run `code` (READY_CODE, or bench/video_pipeline.py's) in a fresh `manage.py shell -c`
    process with BENCH_QUERY set to `query`; the JSON it prints last, and the process's time."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env={**env, "BENCH_QUERY": json.dumps(query)},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if completed.returncode != 0:
        fail(f"manage.py shell -c failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def vm_peak_mb(pid: int) -> float | None:
    """A running process's own peak resident memory since its exec (VmHWM), MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def timed_import(deployment: Deployment, csv: Path, timeout: int, bank: str = BANK) -> dict:
    """`manage.py import_hashes` into `bank`: wall time, peak RSS, and how far it got if stopped."""
    log_path = deployment.workdir / "import.log"
    with open(log_path, "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            deployment.manage("import_hashes", "--bank", bank, str(csv)),
            cwd=BASE_DIR,
            env=deployment.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        status = rusage = None
        hwm = 0.0
        try:
            while status is None:
                hwm = max(hwm, vm_peak_mb(process.pid) or 0.0)
                pid, status_, rusage_ = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    status, rusage = status_, rusage_
                    process.returncode = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() > deadline:
                    os.killpg(process.pid, signal.SIGKILL)
                    _, status, rusage = os.wait4(process.pid, 0)
                    process.returncode = -9
                    break
                time.sleep(0.2)
        except BaseException:
            # Stopped meanwhile: the import must not go on writing to a database being dropped.
            stop(process)
            raise
        seconds = time.perf_counter() - started
    text = log_path.read_text()
    progress = [p for p in text.replace("\r", "\n").splitlines() if p.endswith("entries read")]
    read = int(progress[-1].split()[0].replace(",", "")) if progress else 0
    return {
        "seconds": seconds,
        "peak_mb": rusage.ru_maxrss / 1024 if rusage else float("nan"),
        # ru_maxrss starts at this process's RSS when it forked the command (Linux carries the
        # fork's high-water mark over the exec): the command's own peak is its VmHWM, sampled.
        "peak_hwm_mb": hwm,
        "ok": process.returncode == 0,
        "returncode": process.returncode,
        "read": read,
        "log": text[-2000:],
    }


def database_mb() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0] / 2**20


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def drain(deployment: Deployment, flag_ids: list[int], workers: int, tag: str, worker_class):
    """Start `workers` fresh rqworkers on a queue already holding the flags' hashing jobs; wait
    until every media is hashed. Rates from RQ's job records, per worker over its first job's start
    to its last job's end; readiness from the process start to its first job's end."""
    from reports.models import Media

    before = {j.id for j in finished_jobs()}
    t_start = time.time()
    started = deployment.start_workers(workers, tag, worker_class)
    wait_hashed(flag_ids, deployment, timeout=60 + 10 * len(flag_ids))
    r = {"wall_s": time.time() - t_start}
    jobs = [j for j in finished_jobs() if j.id not in before and job_kind(j) == "hash_media"]
    if len(jobs) != len(flag_ids):
        fail(f"{len(jobs)} finished hashing jobs in RQ for {len(flag_ids)} flags")
    per_worker = {}
    for name, t0 in started:
        mine = sorted(
            (epoch(j.started_at), epoch(j.ended_at)) for j in jobs if j.worker_name == name
        )
        if not mine:
            continue
        span = mine[-1][1] - mine[0][0]
        per_worker[name] = {
            "jobs": len(mine),
            "rate": len(mine) / span if span > 0 else float("nan"),
            "ready_s": mine[0][1] - t0,
            "first_job_ms": (mine[0][1] - mine[0][0]) * 1000,
            "job_ms": statistics.median(e - s for s, e in mine) * 1000,
            # Between one job's end and the next one's start: the worker's own work per job
            # (registries, warm_indexes, the fork) outside the work horse's record.
            "gap_ms": statistics.median(b[0] - a[1] for a, b in zip(mine, mine[1:], strict=False))
            * 1000
            if len(mine) > 1
            else float("nan"),
        }
    span = max(epoch(j.ended_at) for j in jobs) - min(epoch(j.started_at) for j in jobs)
    r.update(
        per_worker=per_worker,
        all_rate=len(jobs) / span,
        worker_rate=statistics.mean(w["rate"] for w in per_worker.values()),
        ready_s=max(w["ready_s"] for w in per_worker.values()),
        job_ms=statistics.median(w["job_ms"] for w in per_worker.values()),
        gap_ms=statistics.median(w["gap_ms"] for w in per_worker.values()),
        matched=Media.objects.filter(flag_id__in=flag_ids, matches__isnull=False)
        .distinct()
        .count(),
    )
    return r


def queues_idle() -> bool:
    from rq.registry import StartedJobRegistry

    from lib.jobs import get_queue

    return all(
        get_queue(n).count == 0 and StartedJobRegistry(queue=get_queue(n)).count == 0
        for n in QUEUES
    )


def added_entry(deployment: Deployment, token: str, bank, pictures: Pictures, size: int, args):
    """Under steady traffic (other pictures flagged all along), add one entry with bank_import; flag copies of its picture, the first at once, then every
    `--added-interval` s; meanwhile poll find_matches in this process (another process than the
    workers) until it sees the entry. Which copies matched, and when."""
    from moderation.banks.matching import find_matches
    from moderation.banks.models import Match
    from moderation.banks.services import bank_import
    from reports.hashing import perceptual_hashes
    from reports.models import Flag, Media

    query = perceptual_hashes(pictures.added[0])
    variants, quality = list(query.pdq_dihedral), query.pdq_quality
    find_matches(pdq_variants=variants, pdq_quality=quality)  # this process's index is current
    # Steady traffic from TRAFFIC_LEAD s before the entry is committed: the workers keep forking
    # jobs (and looking at the banks' version before each) as they do in production.
    traffic_ids = []

    def traffic():
        for i, image in enumerate(pictures.traffic):
            t = time.perf_counter()
            traffic_ids.extend(post_flags(deployment.port, token, [image], f"{size}-tr-{i}", 1))
            time.sleep(max(0.0, TRAFFIC_INTERVAL - (time.perf_counter() - t)))

    sender = threading.Thread(target=traffic)
    sender.start()
    time.sleep(TRAFFIC_LEAD)
    t = time.time()
    bank_import(bank=bank, lines=[f"pdq,{pictures.added_pdq},bench-added\n"])
    committed = time.time()
    r = {"import_call_s": committed - t, "seen_s": None}
    ids, posted = [], []
    deadline = committed + 120
    while len(ids) < len(pictures.added) or r["seen_s"] is None:
        now = time.time()
        if now > deadline:
            fail("the added entry is not seen in this process after 120 s")
        due = committed + len(ids) * args.added_interval
        if len(ids) < len(pictures.added) and now >= due:
            i = len(ids)
            ids += post_flags(deployment.port, token, [pictures.added[i]], f"{size}-added-{i}", 1)
            posted.append(now - committed)
            continue
        if r["seen_s"] is None and find_matches(pdq_variants=variants, pdq_quality=quality):
            r["seen_s"] = time.time() - committed
        time.sleep(0.02)
    sender.join()
    wait_hashed(ids + traffic_ids, deployment, timeout=120)
    deadline = time.time() + 120
    while not queues_idle():  # the rematch job the import queued, too
        if time.time() > deadline:
            fail("jobs still running 120 s after the added entry")
        time.sleep(0.1)
    copies = []
    for i, flag_id in enumerate(ids):
        flag = Flag.objects.get(pk=flag_id)
        media = Media.objects.get(flag=flag)
        match = Match.objects.filter(media=media).first()
        copies.append(
            {
                "flagged_s": flag.created_at.timestamp() - committed,
                "posted_s": posted[i],
                "hashed_s": media.hashed_at.timestamp() - committed,
                "matched_s": match.matched_at.timestamp() - committed if match else None,
                "by": (
                    None
                    if match is None
                    else "hashing job"
                    if match.matched_at <= media.hashed_at
                    else "rematch job"
                ),
            }
        )
    r["copies"] = copies
    rematch = [
        (epoch(j.started_at) - committed, epoch(j.ended_at) - committed)
        for j in finished_jobs()
        if job_kind(j) == "rematch_media"
    ]
    r["rematch"] = rematch
    return r


def deploy(database_url: str, base_env: dict, tmp: Path, workdir: Path, web_workers: int):
    """A deployment of its own: a fresh migrated database (test_<name> of DATABASE_URL), empty
    media and index directories (under `tmp`, as bench_environment names them), a platform user
    with a flag token, and a Deployment on them (its gunicorn and rqworkers started by the
    caller). Returns (deployment, token, the database name to restore, seconds to migrate);
    `undeploy` undoes it all."""
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection

    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import api_token_create
    from moderation.banks.matching import forget_indexes

    workdir.mkdir()
    for d in (tmp / "media", Path(settings.INDEX_DIR)):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    old_name = connection.settings_dict["NAME"]
    t = time.perf_counter()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    migrate_s = time.perf_counter() - t
    env = {
        **base_env,
        "DATABASE_URL": with_database_name(database_url, connection.settings_dict["NAME"]),
    }
    deployment = Deployment(env, workdir, web_workers)
    forget_indexes()
    try:
        user = User.objects.create_user("bench-platform")
        user.groups.add(Group.objects.get(name=Role.PLATFORM))
        _, token = api_token_create(
            user=user, name="bench", scopes=["flag"], rate_limit_per_minute=2_147_483_647
        )
    except BaseException:
        undeploy(deployment, old_name, tmp)
        raise
    return deployment, token, old_name, migrate_s


def undeploy(deployment: Deployment, old_name: str, tmp: Path) -> None:
    """After `deploy`, even on failure: its processes stopped, the Redis database emptied, the
    database dropped (the sessions of any process that outlived its stop ended first, should the
    plain drop fail), the media and index directories removed."""
    from django.conf import settings
    from django.db import connection

    from lib.jobs import get_queue

    deployment.close()
    try:
        get_queue("default").connection.flushdb()
    except Exception as e:  # noqa: BLE001 - cleanup goes on
        print(f"could not empty the Redis database: {e}", file=sys.stderr)
    name = connection.settings_dict["NAME"]
    connection.close()
    try:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    except Exception as e:  # noqa: BLE001 - dropped by force below
        print(f"dropping {name}: {e}; ending its sessions", file=sys.stderr)
        with connection.creation._nodb_cursor() as cursor:
            quoted = connection.ops.quote_name(name)
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        connection.settings_dict["NAME"] = old_name
    shutil.rmtree(Path(settings.INDEX_DIR), ignore_errors=True)
    shutil.rmtree(tmp / "media", ignore_errors=True)


def run_size(size: int, args, pictures: Pictures, base_env: dict, database_url: str, tmp: Path):
    from django.conf import settings
    from django.db import connection

    from lib.jobs import get_queue
    from moderation.banks.models import HashBank, IndexSnapshot, Match
    from reports.models import Flag

    r = {"size": size}
    need = size * DISK_PER_ENTRY + DISK_SPARE
    free = shutil.disk_usage(tmp).free
    r["disk_free_gb"] = free / 2**30
    if free < need:
        r["skipped"] = f"needs ~{need / 2**30:.1f} GiB of disk, {free / 2**30:.1f} GiB free"
        return r

    workdir = tmp / f"size-{size}"
    deployment, token, old_name, r["migrate_s"] = deploy(
        database_url, base_env, tmp, workdir, args.web_workers
    )
    env, index_dir = deployment.env, Path(settings.INDEX_DIR)
    redis = get_queue("default").connection
    try:
        bank = HashBank.objects.create(
            name="Bench PDQ", slug=BANK, signal_types=["pdq"], thresholds={"pdq": 31}
        )
        connection.close()

        # 1. The import.
        csv = workdir / "bank.csv"
        t = time.perf_counter()
        write_csv(csv, size, pictures.csv_pdq, seed=size)
        r["csv_s"] = time.perf_counter() - t
        r["csv_mb"] = csv.stat().st_size / 2**20
        imp = timed_import(deployment, csv, args.import_timeout)
        csv.unlink()
        r["import"] = imp
        progress(
            f"import_hashes: {imp['seconds']:.1f} s, {imp['read']:,} lines read, "
            f"exit {imp['returncode']}, peak RSS {imp['peak_mb']:.0f} MB"
        )
        if not imp["ok"]:
            r["skipped"] = (
                f"import stopped after {imp['seconds']:.0f} s at {imp['read']:,} lines read "
                f"(exit {imp['returncode']}): {imp['log'][-300:]!r}"
            )
            return r

        # 2. The jobs the import queued, run by burst workers; the snapshot must exist after.
        r["queued_after_import"] = {n: get_queue(n).count for n in QUEUES}
        r["jobs_wall_s"], burst = deployment.run_burst(args.workers)
        jobs, first = {}, {}
        for job in finished_jobs():
            jobs.setdefault(job_kind(job), []).append(epoch(job.ended_at) - epoch(job.started_at))
            if job.worker_name in burst:
                first[job.worker_name] = min(
                    first.get(job.worker_name, float("inf")), epoch(job.started_at)
                )
        r["import_jobs"] = jobs
        # From a burst worker's start to its first job's start: Django, and warm_indexes before
        # the first fork (with no snapshot yet, the whole bank indexed from the database).
        r["burst_first_job_s"] = [first[n] - burst[n] for n in sorted(first)]
        r["failed_jobs"] = failed_jobs()
        snapshot = IndexSnapshot.objects.filter(signal_type="pdq").order_by("-pk").first()
        r["snapshot"] = (
            {"entries": snapshot.entries, "files_mb": dir_mb(index_dir)} if snapshot else None
        )
        if size >= settings.INDEX_SNAPSHOT_FOLD_AT and snapshot is None:
            fail(f"no index snapshot after importing {size:,} entries")
        r["database_mb"] = database_mb()
        connection.close()
        redis.flushdb()
        progress(
            f"import jobs (s): {jobs}; burst wall {r['jobs_wall_s']:.1f} s, worker start to first "
            f"job {r['burst_first_job_s']}"
        )

        # Ready to match in a fresh process, as the import leaves the table (no statistics unless
        # autovacuum has analysed it since), then after ANALYZE, which autovacuum does in
        # production within about a minute (this server may run without it: reported).
        query = hashes_query(pictures.added[0])
        r["fresh_unanalysed"] = fresh_ready(env, query)
        with connection.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            r["autovacuum"] = cursor.fetchone()[0]
            t = time.perf_counter()
            cursor.execute("ANALYZE moderation_bankentry")
            r["analyze_s"] = time.perf_counter() - t
        connection.close()
        progress(f"fresh process before ANALYZE: {r['fresh_unanalysed']}")

        # 3. A batch flagged while no worker runs; 4. fresh workers (Vigil's) drain it.
        deployment.start_web()
        t = time.perf_counter()
        batch_ids = post_flags(deployment.port, token, pictures.batch, f"{size}-batch", 4)
        r["post_batch_s"] = time.perf_counter() - t
        queued = get_queue("default").count
        if queued != len(batch_ids):
            fail(f"{queued} jobs queued for {len(batch_ids)} flags")
        r["expected"] = pictures.expected_batch_matches
        r["drain"] = drain(deployment, batch_ids, args.workers, f"{size}", None)
        r["parents_after_batch"] = [smaps(p.pid) for p, _, _ in deployment.workers]
        connection.close()
        progress(f"drain: {json.dumps(r['drain'], default=str)}")

        # 5. In process, the same images, workers idle.
        r["in_process"] = ip = in_process(pictures.batch)
        r["ratio"] = r["drain"]["worker_rate"] / ip["rate"]
        progress(f"per worker {r['drain']['worker_rate']:.2f}/s, in-process {ip['rate']:.2f}/s")

        # 6. Flag to stored match, one copy at a time; memory of horses and parents meanwhile.
        parents = [p.pid for p, _, _ in deployment.workers]
        latency_ids = []
        with HorseSampler(parents) as sampler:
            for i, image in enumerate(pictures.latency):
                t = time.perf_counter()
                latency_ids += post_flags(deployment.port, token, [image], f"{size}-lat-{i}", 1)
                time.sleep(max(0.0, args.interval - (time.perf_counter() - t)))
            wait_hashed(latency_ids, deployment, timeout=120)
            r["parents"] = [smaps(p) for p in parents]
        r["horses"] = list(sampler.peaks.values())
        rows = list(
            Match.objects.filter(media__flag_id__in=latency_ids).values_list(
                "matched_at", "media__flag__created_at"
            )
        )
        r["latency_ms"] = [(m - f).total_seconds() * 1000 for m, f in rows]
        r["latency_matched"] = len(rows)

        # 7. One entry added to the bank.
        r["added"] = added_entry(deployment, token, bank, pictures, size, args)
        progress(f"added entry: {json.dumps(r['added'])}")
        connection.close()

        # 8. A fresh process: ready to match.
        r["fresh"] = fresh_ready(env, query)
        r["failed_jobs"] += failed_jobs()
        r["flags"] = Flag.objects.filter(source=SOURCE).count()

        # 9. For comparison: a second batch drained by the other worker class.
        deployment.stop_workers()
        b_ids = post_flags(deployment.port, token, pictures.batch_b, f"{size}-batch-b", 4)
        r["drain_other"] = drain(deployment, b_ids, args.workers, f"{size}-other", OTHER_CLASS)
        r["ratio_other"] = r["drain_other"]["worker_rate"] / ip["rate"]
        r["failed_jobs"] += failed_jobs()
        progress(f"drain, {OTHER_CLASS}: {json.dumps(r['drain_other'], default=str)}")

        # 10. For comparison: the whole job's service (hash, match, every write) in this process,
        # one media after the other: no fork, no new connection, nothing imported on the way.
        deployment.stop_workers()
        c_ids = post_flags(deployment.port, token, pictures.batch_c, f"{size}-batch-c", 4)
        redis.flushdb()  # their queued jobs: the service is called here instead
        r["in_process_job"] = in_process_job(c_ids)
        progress(f"media_hash in process: {r['in_process_job']}")
        return r
    finally:
        undeploy(deployment, old_name, tmp)


def progress(message: str) -> None:
    print(f"  {datetime.now(UTC):%H:%M:%S} {message}", file=sys.stderr, flush=True)


# --- report ------------------------------------------------------------------------------------


def added_summary(a: dict) -> tuple[str, str, str]:
    """(first copy's outcome, copies matched, flagged-after times of the copies never matched)."""
    copies = a["copies"]
    first = copies[0]
    outcome = (
        f"{first['matched_s']:.2f} ({first['by']})" if first["matched_s"] is not None else "never"
    )
    matched = sum(1 for c in copies if c["matched_s"] is not None)
    missed = [f"{c['flagged_s']:.1f}" for c in copies if c["matched_s"] is None]
    return outcome, f"{matched} / {len(copies)}", ", ".join(missed) or "none"


def _job_and_gap(drain: dict) -> str:
    return f"{drain['job_ms']:.0f}; {drain['gap_ms']:.0f}"


def report(results: list[dict], args) -> None:
    done = [r for r in results if "skipped" not in r]
    for r in results:
        if "skipped" in r:
            print(f"{r['size']:,} entries: NOT MEASURED: {r['skipped']}")
    if not done:
        return
    print(
        f"\nPostgreSQL autovacuum: {done[0]['autovacuum']} (ANALYZE run by the benchmark after the import)"
    )
    print(
        f"{args.workers} rqworkers (`manage.py rqworker high default links`: VigilWorker), "
        "gunicorn "
        f"{args.web_workers} sync workers, {os.cpu_count()} cores; batches of {args.batch} "
        f"640x480 JPEGs (1 in 7 a copy of a listed picture); {args.latency} copies flagged "
        f"{args.interval:.1f} s apart; {args.added} copies of an added entry's picture flagged "
        f"{args.added_interval:.2f} s apart from its commit, under traffic of one other picture "
        f"every {TRAFFIC_INTERVAL} s"
    )

    def ms(values):
        return f"{pct(values, 50):.0f} / {pct(values, 95):.0f}"

    def horses(r, key):
        """0 when there were none: the hashing jobs ran in the worker process itself."""
        values = [h[key] for h in r["horses"]]
        return statistics.median(values) if values else 0.0

    def parents(r, key):
        values = [p[key] for p in r["parents"] if p]
        return statistics.mean(values) if values else float("nan")

    def jobs(r, name):
        values = r["import_jobs"].get(name, [])
        return " + ".join(f"{v:.1f}" for v in values) if values else "—"

    def snapshot(r):
        if not r["snapshot"]:
            return "none (small bank)"
        return f"{r['snapshot']['entries']:,} / {r['snapshot']['files_mb']:,.0f}"

    def rematches(r):
        runs = r["added"]["rematch"]
        return ", ".join(f"{a:.1f}–{b:.1f}" for a, b in sorted(runs)) or "—"

    rows = [
        ("bank entries", lambda r: f"{r['size']:,}"),
        ("import_hashes, whole command (s)", lambda r: f"{r['import']['seconds']:.1f}"),
        ("  lines/s", lambda r: f"{r['size'] / r['import']['seconds']:,.0f}"),
        ("  peak RSS (MB)", lambda r: f"{r['import']['peak_mb']:.0f}"),
        ("rematch job after it (s)", lambda r: jobs(r, "rematch_media")),
        ("snapshot job after it (s)", lambda r: jobs(r, "take_index_snapshot")),
        (
            "  burst worker start to 1st job (s)",
            lambda r: " / ".join(f"{v:.1f}" for v in r["burst_first_job_s"]),
        ),
        ("  burst workers' wall (s)", lambda r: f"{r['jobs_wall_s']:.1f}"),
        ("ANALYZE after the import (s)", lambda r: f"{r['analyze_s']:.1f}"),
        ("snapshot entries / files (MB)", snapshot),
        ("database size (MB)", lambda r: f"{r['database_mb']:,.0f}"),
        ("in-process hash+match (img/s)", lambda r: f"{r['in_process']['rate']:.1f}"),
        (
            "  hash / find_matches p50 (ms)",
            lambda r: f"{r['in_process']['hash_ms']:.1f} / {r['in_process']['match_ms']:.2f}",
        ),
        ("per worker (img/s)", lambda r: f"{r['drain']['worker_rate']:.2f}"),
        ("per worker / in-process", lambda r: f"{r['ratio']:.2f}"),
        ("all workers (img/s)", lambda r: f"{r['drain']['all_rate']:.2f}"),
        ("job p50; between jobs p50 (ms)", lambda r: _job_and_gap(r["drain"])),
        ("batch: start to all hashed (s)", lambda r: f"{r['drain']['wall_s']:.1f}"),
        ("batch matched / expected", lambda r: f"{r['drain']['matched']} / {r['expected']}"),
        (
            f"{OTHER_CLASS.rsplit('.', 1)[1]}: per worker (img/s)",
            lambda r: f"{r['drain_other']['worker_rate']:.2f}",
        ),
        ("  per worker / in-process", lambda r: f"{r['ratio_other']:.2f}"),
        ("  job p50; between jobs p50 (ms)", lambda r: _job_and_gap(r["drain_other"])),
        ("media_hash in this process (img/s)", lambda r: f"{r['in_process_job']['rate']:.1f}"),
        ("  p50 (ms)", lambda r: f"{r['in_process_job']['ms']:.0f}"),
        ("worker start to 1st job done (s)", lambda r: f"{r['drain']['ready_s']:.2f}"),
        ("fresh process: warm_indexes (s)", lambda r: f"{r['fresh']['warm_s']:.3f}"),
        ("  before ANALYZE (s)", lambda r: f"{r['fresh_unanalysed']['warm_s']:.3f}"),
        ("  then first match (s)", lambda r: f"{r['fresh']['first_match_s']:.3f}"),
        ("  index / delta entries", lambda r: f"{r['fresh']['index']} / {r['fresh']['delta']}"),
        ("flag to match p50 / p95 (ms)", lambda r: ms(r["latency_ms"])),
        ("  matched / flagged", lambda r: f"{r['latency_matched']} / {args.latency}"),
        (
            "worker parent RSS / PSS / private (MB)",
            lambda r: (
                f"{parents(r, 'rss'):.0f} / {parents(r, 'pss'):.0f} / {parents(r, 'private'):.0f}"
            ),
        ),
        (
            "work horse peak RSS / PSS / private",
            lambda r: (
                f"{horses(r, 'rss'):.0f} / {horses(r, 'pss'):.0f} / {horses(r, 'private'):.0f}"
                if r["horses"]
                else "none (jobs ran in the worker)"
            ),
        ),
        (
            "added per worker: private (MB)",
            lambda r: f"{parents(r, 'private') + horses(r, 'private'):.0f}",
        ),
        ("entry added: bank_import call (s)", lambda r: f"{r['added']['import_call_s']:.2f}"),
        ("  seen by find_matches elsewhere (s)", lambda r: f"{r['added']['seen_s']:.2f}"),
        ("  copy flagged at once matched (s)", lambda r: added_summary(r["added"])[0]),
        ("  copies matched", lambda r: added_summary(r["added"])[1]),
        ("  never matched, flagged at (s)", lambda r: added_summary(r["added"])[2]),
        ("  rematch job ran (s after)", rematches),
        ("failed jobs", lambda r: f"{r['failed_jobs']}"),
    ]
    width = 40
    print(f"{'':{width}}" + "".join(f"{r['size']:>24,}" for r in done))
    for label, cell in rows:
        print(f"{label:{width}}" + "".join(f"{cell(r):>24}" for r in done))
    first, last = done[0], done[-1]
    if len(done) > 1:
        label = f"ratios {last['size']:,} / {first['size']:,}"
        print(
            f"{label:{width}}per worker "
            f"{last['drain']['worker_rate'] / first['drain']['worker_rate']:.2f}, in-process "
            f"{last['in_process']['rate'] / first['in_process']['rate']:.2f}, flag to match p50 "
            f"{pct(last['latency_ms'], 50) / pct(first['latency_ms'], 50):.2f}"
        )

    def verdict(ok):
        return "PASS" if ok else "FAIL"

    extra = parents(last, "private") + horses(last, "private")
    at = f"at {last['size']:,}"
    print(
        f"\n{verdict(last['ratio'] >= TARGET_RATIO)}  per worker >= {TARGET_RATIO:.0%} of "
        f"in-process {at} ({last['ratio']:.0%} with {WORKER_CLASS.rsplit('.', 1)[1]}; "
        f"{last['ratio_other']:.0%} with {OTHER_CLASS.rsplit('.', 1)[1]})"
    )
    print(
        f"{verdict(last['fresh']['warm_s'] <= TARGET_READY_S)}  a fresh process's warm_indexes "
        f"<= {TARGET_READY_S:.0f} s {at} ({last['fresh']['warm_s']:.2f} s; a fresh worker's "
        f"start to its first job done {last['drain']['ready_s']:.2f} s)"
    )
    print(
        f"{verdict(extra <= TARGET_EXTRA_MB)}  <= {TARGET_EXTRA_MB:.0f} MB more per worker {at} "
        f"({extra:.0f} MB private: parent + work horse)"
    )
    # Every copy of the added entry's picture, flagged from its commit on, must be matched within
    # the target: a copy never matched is a miss, not a slow match.
    latest = [c["matched_s"] for c in last["added"]["copies"]]
    ok = all(t is not None and t <= TARGET_NEW_ENTRY_S for t in latest)
    print(
        f"{verdict(ok)}  an entry added {at} matches within {TARGET_NEW_ENTRY_S:.0f} s "
        f"(copies matched {added_summary(last['added'])[1]}, the last "
        f"{max((t for t in latest if t is not None), default=float('nan')):.2f} s after the "
        f"commit; flagged at, never matched: {added_summary(last['added'])[2]})"
    )
    for r in done:
        missed = added_summary(r["added"])[2]
        if missed != "none":
            print(
                f"  at {r['size']:,}: copies flagged {missed} s after the entry was committed "
                "were never matched"
            )
    if any(r["failed_jobs"] for r in done):
        print("warning: some jobs failed (RQ's failed job registries)")
    if max(r["size"] for r in results) > last["size"]:
        print("note: the largest size asked for was not measured (see above)")


def bench_environment(script: str, database: str, redis_db: int) -> tuple[str, Path, dict]:
    """What a deployed-shape benchmark (this one, bench/video_pipeline.py) needs first: DATABASE_URL
    (PostgreSQL) and REDIS_URL checked, a temporary directory for the run, the environment it and
    the processes it starts share (bench.settings, private media and index directories in the
    temporary one), and SIGTERM made to stop it as Ctrl-C does, so it cleans up. Returns
    (DATABASE_URL, the directory, the environment)."""
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if urlsplit(database_url).scheme not in ("postgres", "postgresql", "pgsql") or not redis_url:
        raise SystemExit(
            f"{script}: set DATABASE_URL (PostgreSQL) and REDIS_URL (a Redis database of its own), "
            f"e.g.\n  DATABASE_URL=postgres://postgres@127.0.0.1:5432/{database} "
            f"REDIS_URL=redis://127.0.0.1:6379/{redis_db} .venv/bin/python {script}"
        )
    tmp = Path(tempfile.mkdtemp(prefix=f"{database.replace('_', '-')}-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "PRIVATE_MEDIA_ROOT": str(tmp / "media"),
            "VIGIL_INDEX_DIR": str(tmp / "index"),
            "VIGIL_VAR_DIR": str(tmp / "var"),
        }
    )

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    return database_url, tmp, dict(os.environ)


def main():
    args = parse_args()
    database_url, tmp, base_env = bench_environment("bench/pipeline.py", "vigil_bench_pipeline", 12)
    results = []
    try:
        # Before Django and Redis are set up: the pictures are made in forked processes.
        pictures = Pictures(args.batch, args.latency, args.added)
        print(
            f"pictures: {len(pictures.batch)} batch ({pictures.expected_batch_matches} copies of "
            f"listed ones), {len(pictures.latency)} latency copies, made in "
            f"{pictures.seconds:.0f} s",
            file=sys.stderr,
        )
        warnings.filterwarnings("ignore", message="No directory at")
        import django

        django.setup()
        from django.conf import settings

        from lib.jobs import get_queue

        global WORKER_CLASS, OTHER_CLASS
        WORKER_CLASS = settings.RQ["WORKER_CLASS"]
        OTHER_CLASS = next(c for c in WORKER_CLASSES if c != WORKER_CLASS)

        redis = get_queue("default").connection
        if redis.dbsize():
            fail(
                f"the Redis database of REDIS_URL holds {redis.dbsize()} keys: give the benchmark "
                "an empty one of its own (it empties it after each size)"
            )
        for size in args.sizes:
            print(f"{size:,} entries ({datetime.now(UTC):%H:%M:%S} UTC)", file=sys.stderr)
            try:
                results.append(run_size(size, args, pictures, base_env, database_url, tmp))
            except SystemExit as e:
                # Cleaned up already; the sizes measured before are still reported.
                print(e, file=sys.stderr)
                results.append({"size": size, "skipped": f"failed: {str(e)[-500:]}"})
            print(json.dumps(results[-1], default=str)[:4000], file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)


if __name__ == "__main__":
    main()
