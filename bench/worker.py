"""A bench-only worker class for bench/pipeline.py: Vigil's worker (config/worker.py) that also runs
the hashing code once before its first fork, so that what the hashing job imports on its first call
(imagehash's pHash imports scipy.fftpack, ~200 ms; Pillow's JPEG plugin) is already in the worker
and every work horse inherits it. The application's worker did not do this when the figures of
2026-12-06 were taken (bench/pipeline.py measured both); config/worker.py has done it since, so
this class now only reproduces that comparison. Never used by the application.

    manage.py rqworker high default --worker-class bench.worker.PreimportWorker
"""

import io

from PIL import Image

from config.worker import VigilWorker


class PreimportWorker(VigilWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        import moderation.banks.hashing  # noqa: F401 - the job's module, imported as it would be
        from reports.hashing import hash_bytes

        picture = io.BytesIO()
        Image.linear_gradient("L").convert("RGB").save(picture, "JPEG")
        hash_bytes(picture.getvalue())
