"""Administrators configure exchanges in the admin: checked settings, credentials named never
held, every change audited."""

import pytest

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.banks.models import HashBank
from moderation.exchanges.models import Exchange, ExchangeSync

ADD = "/admin/moderation/exchange/add/"


@pytest.fixture
def bank(db):
    return HashBank.objects.create(name="NCMEC list", slug="ncmec", signal_types=["md5", "pdq"])


def form(bank, **overrides):
    fields = {
        "name": "NCMEC hash sharing",
        "slug": "ncmec",
        "kind": "ncmec",
        "bank": bank.pk,
        "url": "https://report.cybertip.org/hashsharing",
        "options": "{}",
        "credentials_env": "VIGIL_EXCHANGE_NCMEC",
        "is_enabled": "on",
        "sync_every_minutes": "60",
        "send_feedback": "on",
    }
    return {**fields, **overrides}


@pytest.mark.django_db
class TestExchangeAdmin:
    def test_it_adds_an_exchange_and_audits_it(self, client, admin_user, bank):
        client.force_login(admin_user)
        r = client.post(ADD, form(bank))
        assert r.status_code == 302, r.content
        exchange = Exchange.objects.get()
        assert (exchange.kind, exchange.bank, exchange.credentials_env) == (
            "ncmec",
            bank,
            "VIGIL_EXCHANGE_NCMEC",
        )
        assert AuditEvent.objects.filter(verb="exchange.created", actor=admin_user).exists()

    @pytest.mark.parametrize(
        ("overrides", "field", "says"),
        [
            ({"url": "http://report.cybertip.org/"}, "url", "only over https"),
            ({"credentials_env": "my secret"}, "credentials_env", "capital letters"),
            ({"credentials_env": ""}, "credentials_env", "needs credentials"),
            ({"kind": "threatexchange", "options": "{}"}, "options", "privacy_group"),
            ({"kind": "https_feed", "options": '{"mode": "push"}'}, "options", "list"),
            ({"options": "[1, 2]"}, "options", "An object"),
        ],
    )
    def test_it_refuses_bad_settings_with_a_form_error(
        self, client, admin_user, bank, overrides, field, says
    ):
        client.force_login(admin_user)
        r = client.post(ADD, form(bank, **overrides))
        assert r.status_code == 200 and not Exchange.objects.exists()
        assert says in " ".join(r.context["adminform"].form.errors[field])

    def test_an_exchange_that_synced_is_switched_off_not_deleted(self, client, admin_user, bank):
        client.force_login(admin_user)
        client.post(ADD, form(bank))
        exchange = Exchange.objects.get()
        ExchangeSync.objects.create(exchange=exchange)
        r = client.get(f"/admin/moderation/exchange/{exchange.pk}/delete/")
        assert r.status_code == 403

    def test_it_is_for_administrators_only(self, client, make_user):
        supervisor = make_user("boss", Role.SUPERVISOR)
        supervisor.is_staff = True
        supervisor.save()
        client.force_login(supervisor)
        assert client.get("/admin/moderation/exchange/").status_code == 403
