"""The exchanges' pages: supervisors see each exchange's syncs and feedback and may sync now."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.banks.models import HashBank
from moderation.exchanges.models import Exchange, ExchangeSync
from tests.moderation.exchanges.fake_feed import FakeFeed, start_feed


@pytest.fixture
def feed():
    fake = FakeFeed(lines=["pdq," + "ab" * 32])
    server = start_feed(fake)
    yield fake
    server.shutdown()


@pytest.fixture
def make_exchange(db, feed):
    bank = HashBank.objects.create(name="Partner", slug="partner", signal_types=["pdq"])

    def make(n=0, **fields):
        fields.setdefault("url", feed.url + "/list")
        return Exchange.objects.create(
            name=f"Partner {n}", slug=f"partner-{n}", kind="https_feed", bank=bank, **fields
        )

    return make


def with_syncs(exchange, n=3):
    now = timezone.now()
    for i in range(n):
        ExchangeSync.objects.create(
            exchange=exchange, status="succeeded", finished_at=now, added=i, pages=1
        )


@pytest.mark.django_db
class TestTheList:
    def test_it_shows_each_exchange_with_its_latest_sync_in_fixed_queries(
        self, client, supervisor, make_exchange
    ):
        client.force_login(supervisor)
        for n in range(2):
            with_syncs(make_exchange(n))
        client.get("/supervise/exchanges/")  # warm the navigation's counts
        with CaptureQueriesContext(connection) as few:
            client.get("/supervise/exchanges/")
        for n in range(2, 6):
            with_syncs(make_exchange(n), 5)
        with CaptureQueriesContext(connection) as many:
            html = client.get("/supervise/exchanges/").content.decode()
        assert len(few) == len(many)
        assert html.count("data-exchange=") == 6 and html.count('data-testid="latest-status"') == 6

    def test_it_says_when_credentials_are_missing_without_naming_them(
        self, client, supervisor, make_exchange
    ):
        make_exchange(credentials_env="VIGIL_EXCHANGE_SECRETLESS")
        client.force_login(supervisor)
        html = client.get("/supervise/exchanges/").content.decode()
        assert "credentials not set on this server" in html
        assert "VIGIL_EXCHANGE_SECRETLESS" not in html

    def test_reviewers_may_not_see_it(self, client, reviewer):
        client.force_login(reviewer)
        assert client.get("/supervise/exchanges/").status_code == 403


@pytest.mark.django_db
class TestSyncNow:
    def test_it_syncs_and_shows_the_sync(self, client, supervisor, make_exchange, run_jobs):
        exchange = make_exchange()
        client.force_login(supervisor)
        with run_jobs():
            r = client.post(f"/supervise/exchanges/{exchange.pk}/sync/", follow=True)
        assert b"A sync of Partner 0 is under way" in r.content
        sync = ExchangeSync.objects.get()
        assert (sync.trigger, sync.requested_by, sync.status, sync.added) == (
            "manual",
            supervisor,
            "succeeded",
            1,
        )
        assert AuditEvent.objects.filter(verb="exchange.sync_requested", actor=supervisor).exists()
        html = client.get(f"/supervise/exchanges/{exchange.pk}/").content.decode()
        assert f'data-sync="{sync.pk}"' in html and "On demand by sam" in html

    def test_a_switched_off_exchange_is_not_synced(self, client, supervisor, make_exchange):
        exchange = make_exchange(is_enabled=False)
        client.force_login(supervisor)
        r = client.post(f"/supervise/exchanges/{exchange.pk}/sync/", follow=True)
        assert b"switched off" in r.content and not ExchangeSync.objects.exists()

    def test_a_failed_sync_shows_why_and_the_backoff(
        self, client, supervisor, make_exchange, feed, run_jobs
    ):
        exchange = make_exchange()
        feed.script = ["500"]
        client.force_login(supervisor)
        with run_jobs():
            client.post(f"/supervise/exchanges/{exchange.pk}/sync/")
        html = client.get(f"/supervise/exchanges/{exchange.pk}/").content.decode()
        assert "failed (500)" in html and "1 failure in a row" in html

    def test_the_syncs_part_polls_only_while_a_sync_runs(self, client, supervisor, make_exchange):
        exchange = make_exchange()
        client.force_login(supervisor)
        assert (
            b'hx-trigger="every 3s"'
            not in client.get(f"/supervise/exchanges/{exchange.pk}/").content
        )
        Exchange.objects.filter(pk=exchange.pk).update(
            sync_lease="x", sync_lease_until=timezone.now()
        )
        part = client.get(f"/supervise/exchanges/{exchange.pk}/", HTTP_HX_REQUEST="true")
        assert b'hx-trigger="every 3s"' in part.content and b"<html" not in part.content

    def test_an_unknown_exchange_is_404(self, client, supervisor):
        client.force_login(supervisor)
        assert client.get("/supervise/exchanges/999/").status_code == 404
        assert client.post("/supervise/exchanges/999/sync/").status_code == 404
