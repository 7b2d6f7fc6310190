"""Job functions for tests/lib/test_jobs.py. RQ imports jobs by path, so they live in a module."""


def remember(key: str, value: str) -> None:
    from moderation.cases.models import Queue

    Queue.objects.filter(slug="general").update(description=f"{key}={value}")


def explode() -> None:
    raise RuntimeError("job failed on purpose")
