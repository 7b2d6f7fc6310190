"""SQLite's counterpart of PostgreSQL's append-only guard on the audit table (migration 0029).

The rule is PostgreSQL's: no event is ever deleted, and the only update is the one-time sealing
(moderation/audit/chain.py): seq, prev_hash and hash set where all three were NULL, every other
column unchanged. SQLite triggers cannot compare whole rows, so the update trigger names every
column the table has when it is installed (migration 0031). Django rebuilds a SQLite table to
alter it, which drops its triggers, and a column added later would not be named: a migration that
changes moderation_auditevent must call `sqlite_guard_install` again after its change
(tests/moderation/audit/test_audit_append_only.py fails until it does).

Two SQLite particulars:

- REPLACE (INSERT OR REPLACE, UPDATE OR REPLACE) removes the row it collides with without firing
  delete triggers, so an insert that would collide with an event (same id or seq) is refused, and
  so is a sealing that would take a seq another event holds. PostgreSQL refuses both as unique
  violations, so the rule is the same.
- PostgreSQL lets a session that sets vigil.allow_audit_truncate empty the table, for the test
  suite. SQLite empties tables with DELETE, so deletes are let through on a connection whose
  Django wrapper has `vigil_allow_audit_delete` set true (tests/conftest.py sets it while the
  suite empties its tables, nowhere else); the trigger reads it through the SQL function of that
  name, which `register_allow_delete` puts on every SQLite connection Django opens. A connection
  without the function (the sqlite3 shell) cannot delete events either: the trigger fails to
  compile there ("no such function").
"""

from collections.abc import Iterable

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

TABLE = "moderation_auditevent"
SEAL_COLUMNS = ("seq", "prev_hash", "hash")
UPDATE_TRIGGER = "moderation_auditevent_append_only"
DELETE_TRIGGER = "moderation_auditevent_no_delete"
REPLACE_TRIGGER = "moderation_auditevent_no_replace"
TRIGGERS = (UPDATE_TRIGGER, DELETE_TRIGGER, REPLACE_TRIGGER)
ALLOW_DELETE = "vigil_allow_audit_delete"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_guard_sql(*, columns: Iterable[str]) -> list[str]:
    """CREATE TRIGGER statements for a table with these columns (names from the table itself)."""
    unchanged = "\n        AND ".join(
        f"NEW.{_quote(c)} IS OLD.{_quote(c)}" for c in columns if c not in SEAL_COLUMNS
    )
    # Every name is this module's constant or a column name the table itself gives.
    return [
        f"""CREATE TRIGGER {UPDATE_TRIGGER} BEFORE UPDATE ON {TABLE} FOR EACH ROW
    WHEN NOT (
        OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
        AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
        AND {unchanged}
        AND NOT EXISTS (SELECT 1 FROM {TABLE} WHERE seq = NEW.seq)
    )
    BEGIN
        SELECT RAISE(ABORT, 'an audit event cannot be changed: the audit log is append-only');
    END""",  # noqa: S608
        f"""CREATE TRIGGER {DELETE_TRIGGER} BEFORE DELETE ON {TABLE} FOR EACH ROW
    WHEN NOT {ALLOW_DELETE}()
    BEGIN
        SELECT RAISE(ABORT, 'an audit event cannot be deleted: the audit log is append-only');
    END""",
        f"""CREATE TRIGGER {REPLACE_TRIGGER} BEFORE INSERT ON {TABLE} FOR EACH ROW
    WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.id)
        OR (NEW.seq IS NOT NULL AND EXISTS (SELECT 1 FROM {TABLE} WHERE seq = NEW.seq))
    BEGIN
        SELECT RAISE(ABORT, 'an audit event cannot be replaced: the audit log is append-only');
    END""",  # noqa: S608
    ]


def sqlite_unguard_sql() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]


def sqlite_guard_install(*, connection: BaseDatabaseWrapper) -> None:
    """(Re)install the triggers, naming the table's columns as they are now. SQLite only."""
    with connection.cursor() as cursor:
        columns = [c.name for c in connection.introspection.get_table_description(cursor, TABLE)]
        for sql in sqlite_unguard_sql() + sqlite_guard_sql(columns=columns):
            cursor.execute(sql)


def sqlite_guard_remove(*, connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for sql in sqlite_unguard_sql():
            cursor.execute(sql)


def _add_allow_delete(sender, connection: BaseDatabaseWrapper, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    # Read at each delete, so a test can switch it for the connection it already has.
    connection.connection.create_function(
        ALLOW_DELETE, 0, lambda: int(bool(getattr(connection, ALLOW_DELETE, False)))
    )


def register_allow_delete() -> None:
    """Give every SQLite connection the function the delete trigger asks (moderation/apps.py)."""
    connection_created.connect(_add_allow_delete, dispatch_uid="vigil-audit-allow-delete")
