"""RQ jobs for periodic work. Thin: take ids, call one service."""


def refresh_waiting_priorities() -> None:
    """The periodic run (moderation/periodic/services.py): schedules the next, then recomputes."""
    # Imported when the job runs: the service module imports this one to enqueue the job.
    from moderation.periodic.services import waiting_refresh_run

    waiting_refresh_run()
