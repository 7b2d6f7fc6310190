"""RQ jobs for intake. Thin: take ids, call one service."""


def hash_media(media_id: int) -> None:
    # Imported when the job runs: the hashing service's callers import this module to enqueue it.
    from moderation.banks.hashing import media_hash

    media_hash(media_id=media_id)


# Many a second, each a few tens of milliseconds: Vigil's worker runs it in its own process rather
# than forking a work horse for it (config/worker.py).
hash_media.runs_in_worker = True
# Tens of milliseconds, except the first after a list of millions is imported, which may take the
# bank's index snapshot for every worker (67 s at 10M entries, bench/pipeline.py).
hash_media.job_timeout = 30 * 60
