"""Changing audit events behind the application's back, as only tests may."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def audit_guard_off():
    """Lift PostgreSQL's append-only trigger on the audit table inside the test's transaction
    (the test's rollback restores it). SQLite has no such trigger."""
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
