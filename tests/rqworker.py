"""Running a real `manage.py rqworker` against the test database (PostgreSQL + Redis only)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]

needs_real_worker = pytest.mark.skipif(
    settings.JOBS_EAGER or connection.vendor != "postgresql",
    reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL; .ci/run always sets both",
)


def database_url_for_test_db() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def worker_env(**extra: str) -> dict:
    """This process's environment pointed at the test database, with `extra` settings."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": database_url_for_test_db(),
        **extra,
    }


def worker_command(*queues: str) -> list[str]:
    """A burst `manage.py rqworker` over `queues` (default: every queue, in the workers' order)."""
    return [
        sys.executable,
        "manage.py",
        "rqworker",
        *(queues or settings.RQ_QUEUE_NAMES),
        "--burst",
    ]


def run_burst_worker(*queues: str, timeout: int = 120, **env: str) -> subprocess.CompletedProcess:
    """Run a burst worker over `queues` (default: high, default, links) until they are empty;
    asserts it exited cleanly and returns it (its log is on stderr)."""
    worker = subprocess.run(
        worker_command(*queues),
        cwd=ROOT,
        env=worker_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert worker.returncode == 0, worker.stderr
    return worker


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def kill_worker_mid_hash(worker_class: str, *, private_media, flag) -> tuple[int, int]:
    """Start a real rqworker of `worker_class` whose hashing is slow
    (tests/moderation/hash_slow_worker.py), wait until it is hashing, and SIGKILL it with its
    work horse. Returns (worker pid, pid of the process that was hashing)."""
    worker = subprocess.Popen(
        [sys.executable, "tests/moderation/hash_slow_worker.py", "default"]
        + ["--worker-class", worker_class],
        cwd=ROOT,
        env=worker_env(PRIVATE_MEDIA_ROOT=str(private_media), HASH_STARTED_FLAG=str(flag)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: flag.exists() and len(flag.read_text().split()) == 2)
        hashing = int(flag.read_text().split()[1])
        horses = children(worker.pid)
    finally:
        for pid in [*children(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(10)
    assert (
        hashing in horses if worker_class.endswith("VigilForkingWorker") else hashing == worker.pid
    )
    return worker.pid, hashing
