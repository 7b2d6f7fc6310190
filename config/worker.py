"""The RQ worker Vigil runs (settings.RQ["WORKER_CLASS"], so `manage.py rqworker` uses it).

It gets ready once, when it starts: the hashing code's first call is made (imagehash's pHash imports
scipy.fftpack, ~200 ms; Pillow's JPEG plugin), so no job pays it.

Jobs marked `runs_in_worker` (the hashing job: many a second, each a few tens of milliseconds) run
in the worker process itself, one after the other: no fork and no new database connection per job,
and what one job loaded (the memory-mapped bank index snapshots with their small deltas, the hashes
of the media received) stays for the next. bench/pipeline.py measured this against forking a work
horse per job (docs/performance.md). A job that crashed the process would take the worker with
it; the process manager starts it again and the job is queued again like any interrupted job (the
relay's sweep of unhashed media), exactly once in effect because jobs are idempotent.

Every other job (imports' rematches, index snapshots, packet assembly: rare, long, large) runs in
a forked work horse as RQ does by default, so its memory goes with it and a crash takes only the
horse. Before each fork the worker brings the indexes up to date, so a horse starts with them.

`VigilForkingWorker` forks for every job: the isolation of RQ's default worker, at the cost
measured. Use it with `manage.py rqworker --worker-class config.worker.VigilForkingWorker`.
"""

import io
import logging

from django.db import connections
from PIL import Image
from rq import SimpleWorker, Worker
from rq.worker import WorkerStatus

from moderation.banks import hashing as _hashing_job  # noqa: F401 - imported once, here
from moderation.banks.clusters import warm_media_hashes
from moderation.banks.matching import warm_indexes
from reports.hashing import hash_bytes

logger = logging.getLogger(__name__)


class VigilForkingWorker(Worker):
    in_worker = False  # a job running in this process now (not in a work horse)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # bench/pipeline.py: jobs took 285-320 ms in work horses without this, 54-58 ms with it.
        picture = io.BytesIO()
        Image.linear_gradient("L").convert("RGB").save(picture, "JPEG")
        hash_bytes(picture.getvalue())

    def fork_work_horse(self, job, queue):
        try:
            warm_indexes()
            warm_media_hashes()
        except Exception:
            # The job can still build what it needs itself; never let this stop a worker.
            logger.exception("could not bring the bank indexes up to date before a job")
        finally:
            # The work horse opens its own database connection: a socket shared across a fork
            # would be used by two processes at once.
            connections.close_all()
        return super().fork_work_horse(job, queue)

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        if self.in_worker:
            # Nobody beats the heart while this process runs the job: cover all of it.
            return SimpleWorker.get_heartbeat_ttl(self, job, working_time)
        return super().get_heartbeat_ttl(job, working_time)


class VigilWorker(VigilForkingWorker):
    def execute_job(self, job, queue):
        if not _runs_in_worker(job):
            return super().execute_job(job, queue)
        # What SimpleWorker does, around what Django does for a request, without closing a
        # healthy connection: the next job reuses it.
        _drop_broken_connections()
        self.in_worker = True
        try:
            execution = self.prepare_execution(job)
            self.perform_job(job, queue, execution)
            self.set_state(WorkerStatus.IDLE)
        finally:
            self.in_worker = False
            _drop_broken_connections()


def _runs_in_worker(job) -> bool:
    try:
        return bool(getattr(job.func, "runs_in_worker", False))
    except Exception:  # noqa: BLE001 - a job that cannot be imported fails in a horse, as before
        return False


def _drop_broken_connections() -> None:
    """Django's close_if_unusable_or_obsolete without the age limit (CONN_MAX_AGE is for the web
    processes): a connection left outside autocommit, or broken by an error, is closed."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]:
            conn.close()
        elif conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()
