"""RQ jobs for banks. Thin: take ids, call one service."""

# An import of millions of entries, or a snapshot of them, takes minutes: longer than the queue's
# default job timeout (read by moderation/outbox/services.relay).
LONG_JOB_SECONDS = 3 * 3600


def rematch_media(bank_id: int, added_at: str) -> None:
    """Match media already received against the entries one import added to a bank."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.banks.hashing import bank_rematch

    bank_rematch(bank_id=bank_id, added_at=added_at)


rematch_media.job_timeout = LONG_JOB_SECONDS


def rematch_open_cases(entry_ids: list[int]) -> None:
    """Match media waiting in open cases against entries a decision added (confirmed.py)."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.banks.hashing import media_rematch

    media_rematch(entry_ids=entry_ids, open_cases_only=True)


def reapply_matches(case_ids: list[int], why: str) -> None:
    """Bring open cases in line with the matches of theirs that still count (governance.py)."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.banks.governance import cases_reapply_matches

    cases_reapply_matches(case_ids=case_ids, why=why)


def take_index_snapshot(signal_type: str) -> None:
    """Fold the entries added and removed since into a new index snapshot (snapshot.py)."""
    # Imported when the job runs, like the others: matching.py imports this module to enqueue it.
    from moderation.banks.snapshot import index_snapshot_take

    index_snapshot_take(signal_type=signal_type)


take_index_snapshot.job_timeout = LONG_JOB_SECONDS


def make_strip(media_id: int) -> None:
    """Make a video's keyframe strip for the case page (strips.py)."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.banks.strips import media_make_strip

    media_make_strip(media_id=media_id)


# Seconds for most videos; the strip's own bounds (reports/thumbnails.py) stop it within a minute.
make_strip.job_timeout = 10 * 60
