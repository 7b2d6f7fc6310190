"""A real rqworker and its work horse killed (SIGKILL) in the middle of an assembly, on
PostgreSQL and Redis: nothing is marked ready, and the assembly queued again by the sweep produces
the very same packet."""

import hashlib
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from moderation.escalations.models import Escalation
from moderation.escalations.packet import (
    escalation_assemble,
    escalations_requeue_stale,
    packet_name,
)
from tests.moderation.packet_helpers import approved, packet_bytes
from tests.rqworker import ROOT, children, needs_real_worker, run_burst_worker, wait_for, worker_env

__all__ = ["approved"]


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_assembly_leaves_it_to_a_retry_that_makes_the_same_packet(
    approved, private_media
):
    escalation = approved(images=4)  # approval queued the assembly in Redis
    worker = subprocess.Popen(
        [sys.executable, "tests/moderation/packet_slow_worker.py", "default"],
        cwd=ROOT,
        env=worker_env(PRIVATE_MEDIA_ROOT=str(private_media)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def copying_the_second_file():
            escalation.refresh_from_db()
            # progress: 1 = report written, 1 + n = n files copied.
            return escalation.progress_done >= 2

        wait_for(copying_the_second_file)
    finally:
        # The worker and its work horse (RQ forks it into a session of its own) die at once, as
        # when the machine goes away.
        for pid in [*children(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(10)

    escalation.refresh_from_db()
    assert escalation.status == "assembling" and escalation.packet_sha256 == ""
    assert escalation.progress_done < escalation.progress_total
    assert not default_storage.exists(packet_name(escalation.pk))
    # Killed outright, it cleaned nothing up: its half-written packet is still there.
    assert list(Path(default_storage.path("packets")).glob(f".escalation-{escalation.pk}-*.part"))
    # Its assembly lock died with its database connection. The sweep finds the stalled assembly.
    assert escalations_requeue_stale(older_than=timedelta(0)) == 1
    finished = run_burst_worker(PRIVATE_MEDIA_ROOT=str(private_media))
    escalation.refresh_from_db()
    assert escalation.status == "ready", finished.stderr[-3000:]
    first = (escalation.packet_sha256, escalation.manifest)
    assert hashlib.sha256(packet_bytes(escalation)).hexdigest() == first[0]
    assert not list(Path(default_storage.path("packets")).glob("*.part"))

    # The same escalation assembled from scratch, in this process: the very same packet.
    default_storage.delete(escalation.packet.name)
    Escalation.objects.filter(pk=escalation.pk).update(status="assembling", packet_sha256="")
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    assert (escalation.packet_sha256, escalation.manifest) == first
