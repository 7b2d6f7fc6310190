"""The RQ worker Vigil runs (settings.RQ["WORKER_CLASS"], so `manage.py rqworker` uses it).

RQ forks a fresh work horse per job, so a job finds in memory only what the worker process had
before the fork. This worker brings the bank indexes up to date before each fork — the memory-mapped
index snapshots and their small deltas (moderation/banks/snapshot.py) — and the hashes of the media
received (near-duplicate clusters), so a hashing job matches at once instead of reading a whole
bank from the database in every job (4.5 s per image at 1,000,000 entries before). The fork keeps RQ's isolation: a job that crashes or is killed takes only its
work horse with it, and the jobs stay idempotent as before.
"""

import io
import logging

from django.db import connections
from PIL import Image
from rq import Worker

from moderation.banks import hashing as _hashing_job  # noqa: F401 - imported once, here
from moderation.banks.clusters import warm_media_hashes
from moderation.banks.matching import warm_indexes
from reports.hashing import hash_bytes

logger = logging.getLogger(__name__)


class VigilWorker(Worker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What the hashing code loads on its first call (imagehash's pHash imports scipy.fftpack,
        # ~200 ms; Pillow's JPEG plugin) is loaded once here, so no work horse pays it
        # (bench/pipeline.py measured jobs of 285-320 ms without this, 54-58 ms with it).
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
