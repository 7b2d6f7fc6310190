"""The audit table is append-only on any database: PostgreSQL's trigger (migration 0029) and
SQLite's (0031, moderation/audit/append_only.py) refuse every delete and every update but the
one-time sealing. Without 0031 the SQLite runs of these tests fail."""

import pytest
from django.db import DatabaseError, connection, transaction

from moderation.audit.append_only import TABLE, TRIGGERS
from moderation.audit.chain import audit_seal
from moderation.audit.chain_verify import audit_verify
from moderation.audit.models import AuditEvent
from tests.moderation.audit.test_audit_chain import record

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="REPLACE and the trigger's column list are SQLite's"
)


def refused(sql, params=()):
    """Run `sql` in a savepoint; True when the database refused it as append-only."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as e:
        assert "append-only" in str(e), e
        return True
    return False


def test_it_refuses_to_change_a_sealed_event():
    (event,) = record(1)
    audit_seal()
    assert refused("UPDATE moderation_auditevent SET verb = 'forged' WHERE id = %s", [event.pk])
    assert refused("UPDATE moderation_auditevent SET after = NULL WHERE id = %s", [event.pk])
    assert refused("UPDATE moderation_auditevent SET hash = %s WHERE id = %s", ["0" * 64, event.pk])
    # Unsealing it to seal it again differently is a change too.
    assert refused(
        "UPDATE moderation_auditevent SET seq = NULL, prev_hash = NULL, hash = NULL WHERE id = %s",
        [event.pk],
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="someone else")
    assert audit_verify().ok


def test_it_refuses_to_change_an_unsealed_event():
    (event,) = record(1)
    assert refused("UPDATE moderation_auditevent SET after = NULL WHERE id = %s", [event.pk])
    # Sealing while changing anything else is refused.
    assert refused(
        "UPDATE moderation_auditevent SET seq = 1, prev_hash = 'a', hash = 'b', actor_label = 'other' "
        "WHERE id = %s",
        [event.pk],
    )
    # Half a seal is refused (the check constraint would refuse it too).
    assert refused("UPDATE moderation_auditevent SET seq = 1 WHERE id = %s", [event.pk])


def test_it_refuses_to_delete_an_event():
    sealed, unsealed = record(2)
    audit_seal(max_batches=1, batch=1)
    assert refused("DELETE FROM moderation_auditevent WHERE id = %s", [sealed.pk])
    assert refused("DELETE FROM moderation_auditevent WHERE id = %s", [unsealed.pk])
    assert refused("DELETE FROM moderation_auditevent")
    with pytest.raises(DatabaseError), transaction.atomic():
        sealed.delete()
    assert AuditEvent.objects.count() == 2


def test_it_still_seals_events():
    events = record(3)
    assert audit_seal() == 3
    record(2)
    assert audit_seal() == 2
    assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert audit_verify().ok and audit_verify().checked == 5
    assert AuditEvent.objects.get(pk=events[0].pk).hash


def test_it_allows_the_sealing_update_once_only():
    (event,) = record(1)
    assert not refused(
        "UPDATE moderation_auditevent SET seq = 1, prev_hash = 'a', hash = 'b' WHERE id = %s",
        [event.pk],
    )
    assert refused(
        "UPDATE moderation_auditevent SET seq = 2, prev_hash = 'c', hash = 'd' WHERE id = %s",
        [event.pk],
    )


@sqlite_only
def test_it_refuses_to_replace_an_event():
    # SQLite's REPLACE removes the row it collides with without firing delete triggers.
    sealed, unsealed = record(2)
    audit_seal(max_batches=1, batch=1)
    assert refused(
        "INSERT OR REPLACE INTO moderation_auditevent (id, actor_label, verb, object_type, object_id, "
        "created_at) VALUES (%s, 'x', 'forged', 'x', 'x', '2020-01-01 00:00:00')",
        [sealed.pk],
    )
    assert refused(
        "INSERT OR REPLACE INTO moderation_auditevent (actor_label, verb, object_type, object_id, created_at, "
        "seq, prev_hash, hash) VALUES ('x', 'forged', 'x', 'x', '2020-01-01 00:00:00', 1, 'a', 'b')"
    )
    # A sealing that takes the seq another event holds.
    assert refused(
        "UPDATE OR REPLACE moderation_auditevent SET seq = 1, prev_hash = 'a', hash = 'b' WHERE id = %s",
        [unsealed.pk],
    )
    assert AuditEvent.objects.get(pk=sealed.pk).verb == "test.event"
    assert audit_verify().ok


@sqlite_only
def test_it_names_every_column_of_the_table():
    """A migration that changes the audit table must install the triggers again after it
    (moderation/audit/append_only.py): Django rebuilds a SQLite table to alter it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE]
        )
        triggers = dict(cursor.fetchall())
        columns = [c.name for c in connection.introspection.get_table_description(cursor, TABLE)]
    assert set(triggers) == set(TRIGGERS)
    guard = triggers["moderation_auditevent_append_only"]
    for column in columns:
        if column not in ("seq", "prev_hash", "hash"):
            assert f'NEW."{column}" IS OLD."{column}"' in guard, column


@pytest.mark.django_db(transaction=True)
def test_the_test_suite_still_empties_the_table_after_a_committed_test():
    # Ends with a flush (TRUNCATE on PostgreSQL, DELETE on SQLite), which tests/conftest.py allows.
    record(2)
    audit_seal()
    assert AuditEvent.objects.count() == 2
