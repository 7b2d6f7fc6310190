"""PostgreSQL advisory locks held by the database session, across transactions.

A session lock outlives the transaction that took it, so it must be released by hand; and a
connection broken while holding one would keep it for as long as the session lives (Vigil's worker
keeps its connection between jobs). `session_lock` releases it at the end of its block, or closes
the connection, which ends the session and every lock with it.
"""

import zlib
from contextlib import contextmanager

from django.db import DatabaseError, connection


def lock_key(name: str) -> int:
    return zlib.crc32(name.encode())


@contextmanager
def session_lock(name: str, *, shared: bool = False, also: str = ""):
    """Hold the advisory lock `name` for the block (PostgreSQL only). `also`: a scalar SQL
    expression read by the statement that takes the lock (one round trip); its value is yielded.
    That statement's snapshot may predate the wait for the lock: the caller's reasoning must hold
    for a value read as the lock was requested."""
    mode = "_shared" if shared else ""
    with connection.cursor() as cursor:
        extra = f", ({also})" if also else ""
        cursor.execute(f"SELECT pg_advisory_lock{mode}(%s){extra}", [lock_key(name)])
        row = cursor.fetchone()
    try:
        yield row[1] if also else None
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock{mode}(%s)", [lock_key(name)])
        except DatabaseError:
            # The original error, if any, goes on up.
            connection.close()
