"""PostgreSQL guards the audit log (migration 0026's trigger) and concurrent writers make one
gapless chain. Nobody edits or deletes events through a URL, the admin or the API."""

import threading

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction

from moderation.audit.chain import audit_seal
from moderation.audit.chain_verify import audit_verify
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's"
)
REFUSED = (InternalError, ProgrammingError, IntegrityError)


def write_events(n=2):
    from accounts.models import User

    user = User.objects.get_or_create(username="guard-actor")[0]
    return [audit_record(verb="guard.test", obj=user, actor=user, after={"i": i}) for i in range(n)]


def refused(sql, params=()):
    """Run `sql` in a savepoint and say whether PostgreSQL refused it as append-only."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except REFUSED as e:
        assert "append-only" in str(e) or "TRUNCATE refused" in str(e), e
        return True
    return False


@postgres_only
@pytest.mark.django_db
class TestTrigger:
    def test_it_refuses_to_update_a_sealed_event(self):
        (event,) = write_events(1)
        audit_seal()
        assert refused("UPDATE moderation_auditevent SET verb = 'x' WHERE id = %s", [event.pk])
        assert refused(
            "UPDATE moderation_auditevent SET hash = repeat('0', 64) WHERE id = %s", [event.pk]
        )
        assert refused(
            "UPDATE moderation_auditevent SET seq = NULL, prev_hash = NULL, "
            "hash = NULL WHERE id = %s",
            [event.pk],
        )
        assert audit_verify().ok

    def test_it_refuses_to_update_an_unsealed_event(self):
        (event,) = write_events(1)
        assert refused("UPDATE moderation_auditevent SET after = NULL WHERE id = %s", [event.pk])
        # Sealing while changing anything else is refused too.
        assert refused(
            "UPDATE moderation_auditevent SET seq = 1, prev_hash = 'a', hash = 'b', "
            "actor_label = 'other' WHERE id = %s",
            [event.pk],
        )

    def test_it_allows_the_sealing_update_once_only(self):
        (event,) = write_events(1)
        assert not refused(
            "UPDATE moderation_auditevent SET seq = 1, prev_hash = 'a', hash = 'b' WHERE id = %s",
            [event.pk],
        )
        assert refused(
            "UPDATE moderation_auditevent SET seq = 2, prev_hash = 'c', hash = 'd' WHERE id = %s",
            [event.pk],
        )

    def test_it_refuses_delete_and_truncate(self):
        (event,) = write_events(1)
        assert refused("DELETE FROM moderation_auditevent WHERE id = %s", [event.pk])
        with connection.cursor() as cursor:
            # The test suite allows TRUNCATE for its own cleanup (tests/conftest.py).
            cursor.execute("SET LOCAL vigil.allow_audit_truncate = off")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        assert refused("TRUNCATE moderation_auditevent CASCADE")
        assert AuditEvent.objects.filter(pk=event.pk).exists()

    def test_the_orm_cannot_change_or_delete_events_either(self):
        (event,) = write_events(1)
        with pytest.raises(REFUSED), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(verb="forged")
        with pytest.raises(REFUSED), transaction.atomic():
            event.delete()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_make_one_gapless_chain():
    from accounts.models import User

    User.objects.create(username="guard-actor")
    threads_n, rounds = 6, 15
    errors = []

    def writer():
        try:
            for _ in range(rounds):
                # Each transaction commits, then seals (or skips if another sealer runs).
                with transaction.atomic():
                    write_events(2)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sealed_after_commit = AuditEvent.objects.filter(seq__isnull=False).count()
    audit_seal(wait=True)  # what the periodic job does for stragglers
    total = threads_n * rounds * 2
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    assert sealed_after_commit > total // 2
    result = audit_verify()
    assert result.ok and result.checked == total


@pytest.mark.django_db
class TestNoDoorChangesEvents:
    def test_a_supervisor_cannot_edit_or_delete_events_through_any_url(self, client, supervisor):
        from django.urls import get_resolver

        events = write_events(2)
        audit_seal()
        client.force_login(supervisor)
        event = events[0]
        paths = ["/audit/", f"/audit/{event.pk}/", f"/api/v1/audit/{event.pk}", "/api/v1/audit"]
        paths += [
            f"/admin/moderation/auditevent/{event.pk}/change/",
            f"/admin/moderation/auditevent/{event.pk}/delete/",
            "/admin/moderation/auditevent/",
        ]
        # Every URL pattern that mentions the audit log, filled with the event's id.
        for pattern in get_resolver().url_patterns:
            route = str(pattern.pattern)
            if "audit" in route and "<" not in route:
                paths.append("/" + route.lstrip("^").rstrip("$"))
        for path in paths:
            for method in ("post", "put", "patch", "delete"):
                getattr(client, method)(
                    path,
                    {
                        "verb": "forged",
                        "action": "delete_selected",
                        "_selected_action": event.pk,
                        "post": "yes",
                    },
                )
        assert AuditEvent.objects.count() == 2
        assert not AuditEvent.objects.filter(verb="forged").exists()
        assert audit_verify().ok

    def test_an_admin_cannot_bulk_delete_events_in_the_admin(self, client, admin_user):
        events = write_events(2)
        admin_user.is_superuser = True
        admin_user.save()
        client.force_login(admin_user)
        r = client.post(
            "/admin/moderation/auditevent/",
            {
                "action": "delete_selected",
                "_selected_action": [e.pk for e in events],
                "post": "yes",
            },
        )
        assert r.status_code in (200, 302, 403)
        assert AuditEvent.objects.filter(pk__in=[e.pk for e in events]).count() == 2
