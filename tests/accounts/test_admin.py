import pytest

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Queue


@pytest.mark.django_db
class TestAdmin:
    def test_the_admin_role_can_manage_users_and_queues(self, client, admin_user):
        client.force_login(admin_user)
        assert client.get("/admin/accounts/user/").status_code == 200
        assert client.get("/admin/moderation/queue/").status_code == 200

    def test_queue_changes_are_audited(self, client, admin_user):
        client.force_login(admin_user)
        queue = Queue.objects.get(slug="general")
        r = client.post(
            f"/admin/moderation/queue/{queue.pk}/change/",
            {
                "slug": "general",
                "name": "General",
                "description": queue.description,
                "order": 1000,
                # No category ticked: every category.
                "involves_child": "unknown",
                "sla_minutes": 720,
                "is_active": "on",
            },
        )
        assert r.status_code == 302, r.content
        event = AuditEvent.objects.get(verb="queue.changed")
        assert event.actor == admin_user
        assert event.before == {"sla_minutes": 1440}
        assert event.after == {"sla_minutes": 720}

    def test_nobody_can_edit_or_delete_audit_events_in_the_admin(
        self, client, admin_user, submit_report
    ):
        submit_report()
        event = AuditEvent.objects.first()
        admin_user.is_superuser = True
        admin_user.save()
        client.force_login(admin_user)
        assert client.get(f"/admin/moderation/auditevent/{event.pk}/change/").status_code == 200
        r = client.post(f"/admin/moderation/auditevent/{event.pk}/change/", {"verb": "forged"})
        assert r.status_code == 403
        assert (
            client.post(
                f"/admin/moderation/auditevent/{event.pk}/delete/", {"post": "yes"}
            ).status_code
            == 403
        )
        event.refresh_from_db()
        assert event.verb != "forged"

    def test_a_supervisor_cannot_reach_the_admin(self, client, supervisor):
        client.force_login(supervisor)
        r = client.get("/admin/moderation/auditevent/")
        assert r.status_code == 302 and "/admin/login/" in r.url


@pytest.mark.django_db
def test_password_changes_are_audited_without_the_hash(client, make_user, admin_user):
    from accounts.models import User

    client.force_login(admin_user)
    r = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newbie",
            "password1": "a-long-pass-123",
            "password2": "a-long-pass-123",
            "usable_password": "true",
            # The certifications inline's management form.
            "certifications-TOTAL_FORMS": "0",
            "certifications-INITIAL_FORMS": "0",
        },
    )
    assert r.status_code == 302, r.content
    event = AuditEvent.objects.get(verb="user.created")
    assert event.after["username"] == "newbie"
    assert "password" not in event.after
    assert "pbkdf2" not in str(event.after) and "md5$" not in str(event.after)
    assert User.objects.get(username="newbie").check_password("a-long-pass-123")


@pytest.mark.django_db
def test_certifications_granted_in_the_admin_are_audited_with_the_grantor(
    client, make_user, admin_user
):
    from accounts.models import QueueCertification

    trainee = make_user("trainee", Role.REVIEWER, queues=[])
    queue = Queue.objects.get(slug="child-safety")
    client.force_login(admin_user)
    r = client.post(
        "/admin/accounts/queuecertification/add/",
        {
            "user": trainee.pk,
            "queue": queue.pk,
            "granted_at_0": "2026-11-01",
            "granted_at_1": "09:00:00",
            "expires_at_0": "2027-11-01",
            "expires_at_1": "09:00:00",
        },
    )
    assert r.status_code == 302, r.content
    cert = QueueCertification.objects.get(user=trainee)
    assert cert.granted_by == admin_user
    event = AuditEvent.objects.get(verb="queuecertification.created")
    assert event.actor == admin_user


@pytest.mark.django_db
def test_role_changes_and_deletions_are_audited(client, make_user, admin_user):
    from django.contrib.auth.models import Group

    reviewer = make_user("rev", Role.REVIEWER, queues=[])
    supervisor_group = Group.objects.get(name="supervisor")
    client.force_login(admin_user)
    r = client.post(
        f"/admin/accounts/user/{reviewer.pk}/change/",
        {
            "username": "rev",
            "is_active": "on",
            "groups": [supervisor_group.pk],
            "date_joined_0": "2026-11-01",
            "date_joined_1": "09:00:00",
            "certifications-TOTAL_FORMS": "0",
            "certifications-INITIAL_FORMS": "0",
        },
    )
    assert r.status_code == 302, r.content
    event = AuditEvent.objects.get(verb="user.changed")
    assert event.after["groups"] == [supervisor_group.pk]
    assert event.before["groups"] == [Group.objects.get(name="reviewer").pk]

    # Deleting accounts is for superusers only (the admin role may deactivate instead).
    admin_user.is_superuser = True
    admin_user.save()
    r = client.post(f"/admin/accounts/user/{reviewer.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    deleted = AuditEvent.objects.get(verb="user.deleted")
    assert deleted.before["username"] == "rev"


@pytest.mark.django_db
def test_an_admin_who_is_not_superuser_cannot_grant_superuser(client, admin_user):
    client.force_login(admin_user)
    r = client.get(f"/admin/accounts/user/{admin_user.pk}/change/")
    assert b'name="is_superuser"' not in r.content
    assert b'name="groups"' in r.content


@pytest.mark.django_db
def test_an_admin_creates_a_token_in_the_console_and_sees_it_once(client, make_user, admin_user):
    import re

    from accounts.models import ApiToken

    platform = make_user("platform", Role.PLATFORM, queues=[])
    client.force_login(admin_user)
    r = client.post(
        "/admin/accounts/apitoken/add/",
        {"user": platform.pk, "name": "prod", "scopes": ["flag"], "rate_limit_per_minute": 100},
        follow=True,
    )
    assert r.status_code == 200
    token = re.search(rb"(vgl_[A-Za-z0-9_\-]+)", r.content).group(1).decode()
    row = ApiToken.objects.get()
    assert row.scopes == ["flag"] and row.created_by == admin_user
    api = client.get("/api/v1/queues", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 403  # flag scope only: reading is not allowed
    # Never shown again.
    assert token.encode() not in client.get(f"/admin/accounts/apitoken/{row.pk}/change/").content

    client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert AuditEvent.objects.filter(verb="apitoken.revoked", actor=admin_user).exists()


@pytest.mark.django_db
def test_the_console_refuses_a_token_beyond_the_users_role(client, make_user, admin_user):
    from accounts.models import ApiToken

    reviewer = make_user("rev", Role.REVIEWER, queues=[])
    client.force_login(admin_user)
    r = client.post(
        "/admin/accounts/apitoken/add/",
        {"user": reviewer.pk, "name": "x", "scopes": ["report"], "rate_limit_per_minute": 100},
        follow=True,
    )
    assert b"does not allow the scope" in r.content
    assert ApiToken.objects.count() == 0
