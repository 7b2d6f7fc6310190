"""RQ jobs for intake. Thin: take ids, call one service."""


def hash_media(media_id: int) -> None:
    # Imported when the job runs: the hashing service's callers import this module to enqueue it.
    from moderation.banks.hashing import media_hash

    media_hash(media_id=media_id)
