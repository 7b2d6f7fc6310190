"""The RQ worker Vigil runs (settings.RQ["WORKER_CLASS"], so `manage.py rqworker` uses it).

RQ forks a fresh work horse per job, so a job finds in memory only what the worker process had
before the fork. This worker brings the bank indexes up to date before each fork — the memory-mapped
index snapshots and their small deltas (moderation/banks/snapshot.py) — so a hashing job matches at
once instead of reading a whole bank from the database in every job (4.5 s per image at 1,000,000
entries before). The fork keeps RQ's isolation: a job that crashes or is killed takes only its
work horse with it, and the jobs stay idempotent as before.
"""

import logging

from django.db import connections
from rq import Worker

from moderation.banks.matching import warm_indexes

logger = logging.getLogger(__name__)


class VigilWorker(Worker):
    def fork_work_horse(self, job, queue):
        try:
            warm_indexes()
        except Exception:
            # The job can still build what it needs itself; never let this stop a worker.
            logger.exception("could not bring the bank indexes up to date before a job")
        finally:
            # The work horse opens its own database connection: a socket shared across a fork
            # would be used by two processes at once.
            connections.close_all()
        return super().fork_work_horse(job, queue)
