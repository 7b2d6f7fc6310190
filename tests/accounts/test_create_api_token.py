import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiToken, hash_token
from accounts.roles import Role
from moderation.audit.models import AuditEvent


def create(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


@pytest.mark.django_db
class TestCreateApiToken:
    def test_it_prints_the_token_once_and_stores_only_its_hash(self, make_user):
        make_user("platform", Role.PLATFORM, queues=[])
        token, note = create("--user", "platform", "--name", "prod")
        row = ApiToken.objects.get()
        assert token.startswith("vgl_")
        assert row.token_hash == hash_token(token)
        assert token not in str(ApiToken.objects.values().get())
        assert row.scopes == ["flag", "read", "report"]
        assert "cannot be shown again" in note
        assert AuditEvent.objects.get(verb="apitoken.created").after["scopes"] == row.scopes

    def test_scopes_follow_the_role(self, make_user):
        make_user("rev", Role.REVIEWER, queues=[])
        create("--user", "rev", "--name", "script")
        assert ApiToken.objects.get().scopes == ["read"]

    def test_it_refuses_scopes_beyond_the_role(self, make_user):
        make_user("rev", Role.REVIEWER, queues=[])
        with pytest.raises(CommandError, match="does not allow the scope"):
            create("--user", "rev", "--name", "x", "--scopes", "report")

    def test_it_refuses_a_user_without_a_role(self, make_user):
        make_user("nobody", role=None, queues=[])
        with pytest.raises(CommandError, match="no role that allows API access"):
            create("--user", "nobody", "--name", "x")

    def test_it_refuses_unknown_users_scopes_and_duplicate_names(self, make_user):
        make_user("platform", Role.PLATFORM, queues=[])
        with pytest.raises(CommandError, match="No user"):
            create("--user", "ghost", "--name", "x")
        with pytest.raises(CommandError, match="Unknown scope"):
            create("--user", "platform", "--name", "x", "--scopes", "admin")
        create("--user", "platform", "--name", "x")
        with pytest.raises(CommandError, match="already has a token"):
            create("--user", "platform", "--name", "x")

    def test_a_token_loses_scopes_its_user_loses(self, client, make_user):
        from django.contrib.auth.models import Group

        user = make_user("platform", Role.PLATFORM, queues=[])
        token, _ = create("--user", "platform", "--name", "prod")
        user.groups.remove(Group.objects.get(name="platform"))
        user.groups.add(Group.objects.get(name="reviewer"))
        r = client.post(
            "/api/v1/flags",
            data="{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert r.status_code in (403, 422)
        r = client.get("/api/v1/queues", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert r.status_code == 200

    def test_rate_limit_per_token(self, client, make_user):
        make_user("platform", Role.PLATFORM, queues=[])
        token, _ = create("--user", "platform", "--name", "prod", "--rate", "2")
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        codes = [client.get("/api/v1/queues", **headers).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = client.get("/api/v1/queues", **headers)
        assert r.json()["error"] == "rate_limited"
        assert 1 <= int(r["Retry-After"]) <= 60
