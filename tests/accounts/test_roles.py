import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.roles import ROLE_PERMISSIONS, Role


@pytest.mark.django_db
class TestRoles:
    def test_the_migration_creates_every_role_with_its_permissions(self):
        for role, perms in ROLE_PERMISSIONS.items():
            group = Group.objects.get(name=role.value)
            granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
            assert granted >= set(perms)
            # Only the admin role manages the admin's models.
            assert any(".view_" in g for g in granted) == (role == Role.ADMIN)

    def test_a_users_role_is_their_highest_group(self, make_user):
        user = make_user("x", Role.REVIEWER)
        assert user.role == Role.REVIEWER
        user.groups.add(Group.objects.get(name="supervisor"))
        assert type(user).objects.get(pk=user.pk).role == Role.SUPERVISOR

    def test_a_user_without_a_role_may_not_review(self, make_user):
        user = make_user("nobody", role=None)
        assert user.role is None
        assert not user.has_perm(roles.REVIEW)

    def test_roles_include_the_permissions_below_them(self, make_user):
        supervisor = make_user("s", Role.SUPERVISOR)
        assert supervisor.has_perm(roles.REVIEW) and supervisor.has_perm(roles.SUPERVISE)
        assert not supervisor.has_perm(roles.ADMINISTER)


@pytest.mark.django_db
class TestLogin:
    def test_it_logs_in_and_lands_on_the_dashboard(self, client, reviewer):
        r = client.post("/accounts/login/", {"username": "rita", "password": "pw-for-tests"})
        assert r.status_code == 302 and r.url == "/review/"

    def test_it_rejects_a_wrong_password(self, client, reviewer):
        r = client.post("/accounts/login/", {"username": "rita", "password": "nope"})
        assert r.status_code == 200
        assert b"Please enter a correct username and password" in r.content

    def test_logout_needs_post(self, client, reviewer):
        client.force_login(reviewer)
        assert client.get("/accounts/logout/").status_code == 405
        r = client.post("/accounts/logout/")
        assert r.status_code == 302
        assert client.get("/review/").status_code == 302
