"""Transactions: who owns them, said in code rather than in docstrings.

A public service owns its transaction and opens it with `transaction.atomic(durable=True)`, so
calling it inside someone else's transaction fails at once instead of quietly making its commit
(and the jobs and webhooks that follow a commit) depend on the caller. A helper that writes part
of a caller's change is marked `@in_transaction`: called outside one, it raises instead of
committing half of that change on its own.
"""

from functools import wraps

from django.db import connection


class TransactionRequired(RuntimeError):
    """A helper that writes part of a caller's change was called outside a transaction."""


def in_transaction(func):
    """The decorated function must be called inside the caller's transaction."""

    @wraps(func)
    def wrapped(*args, **kwargs):
        if not connection.in_atomic_block:
            raise TransactionRequired(
                f"{func.__module__}.{func.__qualname__} writes part of its caller's change: "
                "call it inside the caller's transaction.atomic()."
            )
        return func(*args, **kwargs)

    wrapped.vigil_in_transaction = True
    return wrapped
