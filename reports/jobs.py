"""RQ jobs for intake. Thin: take ids, call one service."""

from reports.services import media_hash


def hash_media(media_id: int) -> None:
    media_hash(media_id=media_id)
