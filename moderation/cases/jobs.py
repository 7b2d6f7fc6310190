"""RQ jobs for cases. Thin: take ids, call one service."""


def recompute_priorities(version: int, after_id: int) -> None:
    """Recompute one batch of open cases with new priority weights (queues the next batch)."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.cases.reprioritise import cases_recompute_priorities

    cases_recompute_priorities(version=version, after_id=after_id)


def refresh_reporters_cases(record_ids: list[int]) -> None:
    """Reporters' track records changed: recompute their open cases."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.cases.reprioritise import cases_refresh_reliability

    cases_refresh_reliability(record_ids=record_ids)
