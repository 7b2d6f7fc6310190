"""What a test's process keeps between requests beyond the database: the cache and in-memory
memos. Forgotten before each test (tests/conftest.py), and between the requests of a test that
rolls back its own savepoints (tests/test_permissions.py)."""


def forget_process_state() -> None:
    from django.core.cache import cache

    from accounts.api import forget_principals
    from moderation.banks.clusters import forget_media_hashes
    from moderation.banks.matching import forget_indexes
    from moderation.cases.weights import forget_weights

    # Rate-limit counters from one test must not throttle the next.
    cache.clear()
    forget_principals()
    # In-memory indexes hold ids from earlier tests' rolled-back rows.
    forget_indexes()
    forget_media_hashes()
    forget_weights()
