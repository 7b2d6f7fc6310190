"""Partner platforms' feed tokens: made with the management command or in the admin, shown once,
stored hashed, scoped to published banks, revoked (and audited)."""

import hashlib
import io
import re

import pytest
from django.core.management import CommandError, call_command

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.exchanges.feed_tokens import (
    FeedTokenRefused,
    feed_token_create,
    feed_token_revoke,
)
from moderation.exchanges.models import FeedToken
from tests.moderation.exchanges.feed_helpers import add, published_bank, read


@pytest.mark.django_db
class TestService:
    def test_it_stores_only_the_tokens_hash_and_audits_it(self, admin_user):
        bank = published_bank()
        row, token = feed_token_create(name="partner-x", banks=[bank], user=admin_user)
        assert token.startswith("vglf_") and len(token) > 40
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert list(row.banks.all()) == [bank] and row.created_by == admin_user
        event = AuditEvent.objects.get(verb="feedtoken.created")
        assert event.actor == admin_user and event.after == {
            "name": "partner-x",
            "banks": ["shared"],
        }
        assert token not in str(event.after)

    @pytest.mark.parametrize("problem", ["no name", "no bank", "unpublished", "name in use"])
    def test_it_refuses_what_would_make_a_useless_or_confusing_token(self, problem):
        bank = published_bank()
        hidden = published_bank("hidden", published=False)
        feed_token_create(name="taken", banks=[bank])
        name, banks = {
            "no name": ("  ", [bank]),
            "no bank": ("p", []),
            "unpublished": ("p", [bank, hidden]),
            "name in use": ("taken", [bank]),
        }[problem]
        with pytest.raises(FeedTokenRefused):
            feed_token_create(name=name, banks=banks)

    def test_it_lets_a_revoked_tokens_name_be_used_again(self):
        bank = published_bank()
        row, _ = feed_token_create(name="partner", banks=[bank])
        assert feed_token_revoke(token=row) is True
        assert feed_token_revoke(token=row) is False  # once
        assert AuditEvent.objects.filter(verb="feedtoken.revoked").count() == 1
        feed_token_create(name="partner", banks=[bank])


@pytest.mark.django_db
class TestCommand:
    def test_it_prints_the_token_once_and_it_reads_the_banks(self, client):
        bank, other = published_bank(), published_bank("other")
        add(bank, 1)
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "create_feed_token", "--name", "partner", "--bank", "shared", "--bank", "other",
            stdout=out, stderr=err,
        )  # fmt: skip
        token = out.getvalue().strip()
        assert "cannot be shown again" in err.getvalue()
        row = FeedToken.objects.get()
        assert set(row.banks.all()) == {bank, other}
        assert AuditEvent.objects.get(verb="feedtoken.created").actor_label.startswith("manage.py")
        assert read(client, token).status_code == 200
        assert read(client, token, "other").status_code == 200

    @pytest.mark.parametrize("slug, message", [("nothing", "No bank"), ("hidden", "Not published")])
    def test_it_refuses_an_unknown_or_unpublished_bank(self, slug, message):
        published_bank("hidden", published=False)
        with pytest.raises(CommandError, match=message):
            call_command("create_feed_token", "--name", "p", "--bank", slug, stdout=io.StringIO())
        assert not FeedToken.objects.exists()


@pytest.mark.django_db
class TestAdmin:
    def test_it_creates_a_token_shows_it_once_and_revokes_it(self, client, admin_user):
        bank = published_bank()
        published_bank("hidden", published=False)
        add(bank, 1)
        client.force_login(admin_user)
        form = client.get("/admin/moderation/feedtoken/add/")
        assert form.status_code == 200
        assert b"Shared" in form.content and b"Hidden" not in form.content  # published only
        r = client.post(
            "/admin/moderation/feedtoken/add/", {"name": "partner", "banks": [bank.pk]}, follow=True
        )
        token = re.search(rb"(vglf_[A-Za-z0-9_\-]+)", r.content).group(1).decode()
        row = FeedToken.objects.get()
        assert row.created_by == admin_user
        assert (
            token.encode()
            not in client.get(f"/admin/moderation/feedtoken/{row.pk}/change/").content
        )
        assert read(client, token).status_code == 200

        client.post(
            "/admin/moderation/feedtoken/", {"action": "revoke", "_selected_action": [row.pk]}
        )
        row.refresh_from_db()
        assert row.revoked_at is not None
        assert AuditEvent.objects.filter(verb="feedtoken.revoked", actor=admin_user).exists()
        client.logout()
        assert read(client, token).status_code == 401

    def test_it_refuses_a_name_in_use_with_a_form_error(self, client, admin_user):
        bank = published_bank()
        feed_token_create(name="partner", banks=[bank])
        client.force_login(admin_user)
        r = client.post("/admin/moderation/feedtoken/add/", {"name": "partner", "banks": [bank.pk]})
        assert r.status_code == 200 and b"is in use" in r.content
        assert FeedToken.objects.count() == 1

    def test_it_is_for_administrators_only(self, client, make_user):
        staff = make_user("sam", Role.SUPERVISOR)
        staff.is_staff = True
        staff.save()
        client.force_login(staff)
        assert client.get("/admin/moderation/feedtoken/").status_code == 403
        assert client.get("/admin/moderation/feedtoken/add/").status_code == 403
