"""Changing audit events behind the application's back, as only tests may."""

from contextlib import contextmanager

from django.db import connection

from moderation.audit.append_only import sqlite_guard_install, sqlite_guard_remove


@contextmanager
def audit_guard_off():
    """Lift the append-only triggers on the audit table (PostgreSQL's, migration 0029; SQLite's,
    0031) inside the test's transaction, as someone with access to the database could; they are
    back when the block ends (and the test's rollback would restore them anyway)."""
    if connection.vendor == "sqlite":
        sqlite_guard_remove(connection=connection)
        try:
            yield
        finally:
            sqlite_guard_install(connection=connection)
        return
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # Foreign key checks still queued in this transaction would block the ALTER.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE moderation_auditevent DISABLE TRIGGER USER")
        try:
            yield
        finally:
            cursor.execute("ALTER TABLE moderation_auditevent ENABLE TRIGGER USER")
