"""Jobs for tests/config/test_worker.py: each writes which process ran it (its pid and its parent's)."""

import os
from pathlib import Path


def record_process(path: str) -> None:
    Path(path).write_text(f"{os.getpid()} {os.getppid()}")


def record_process_in_worker(path: str) -> None:
    record_process(path)


record_process_in_worker.runs_in_worker = True
