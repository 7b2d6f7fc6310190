"""Vigil's rqworker runs the jobs marked `runs_in_worker` (the hashing job) in its own process and
forks a work horse for every other job; VigilForkingWorker forks for all of them."""

import os

import pytest

from lib.jobs import get_queue
from tests.config import worker_probe
from tests.rqworker import needs_real_worker, run_burst_worker


def ran_in(path) -> str:
    """'worker' when the worker process (a child of this test) ran the job, else 'work horse'."""
    _, parent = (int(v) for v in path.read_text().split())
    return "worker" if parent == os.getpid() else "work horse"


@needs_real_worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("worker_class", "marked", "other"),
    [
        ("config.worker.VigilWorker", "worker", "work horse"),
        ("config.worker.VigilForkingWorker", "work horse", "work horse"),
    ],
)
def test_it_runs_each_job_where_its_class_says(tmp_path, worker_class, marked, other):
    queue = get_queue()
    queue.enqueue(worker_probe.record_process_in_worker, str(tmp_path / "marked"))
    queue.enqueue(worker_probe.record_process, str(tmp_path / "other"))
    run_burst_worker("default", "--worker-class", worker_class)
    assert (ran_in(tmp_path / "marked"), ran_in(tmp_path / "other")) == (marked, other)
