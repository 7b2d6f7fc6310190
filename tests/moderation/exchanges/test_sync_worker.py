"""A sync run by a real rqworker that is killed mid-sync (SIGKILL, worker and work horse) resumes
with the next sync from its last applied page: nothing lost, nothing twice (PostgreSQL + Redis)."""

import os
import signal
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from moderation.banks.models import BankEntry, HashBank
from moderation.exchanges.models import EntrySource, Exchange, ExchangeSync
from moderation.exchanges.services import exchange_sync_request
from tests.moderation.exchanges.fake_feed import FakeFeed, start_feed
from tests.rqworker import (
    ROOT,
    children,
    needs_real_worker,
    run_burst_worker,
    wait_for,
    worker_command,
    worker_env,
)

pytestmark = [needs_real_worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_sync_loses_nothing_and_repeats_nothing(supervisor):
    feed = FakeFeed(page_size=3, slow_seconds=60)
    server = start_feed(feed)
    try:
        feed.changes = [
            {"id": str(n), "signal_type": "pdq", "signal": f"{n:02x}" * 32} for n in range(1, 10)
        ]
        feed.changes.append({"id": "2", "signal_type": "pdq", "signal": "02" * 32, "deleted": True})
        bank = HashBank.objects.create(name="Partner", slug="partner", signal_types=["pdq"])
        exchange = Exchange.objects.create(
            name="Partner",
            slug="partner",
            kind="https_feed",
            bank=bank,
            url=feed.url + "/changes",
            options={"mode": "incremental"},
        )
        feed.script = ["ok", "slow"]  # page one, then a page that never comes in time
        exchange_sync_request(exchange=exchange, user=supervisor)
        worker = subprocess.Popen(
            worker_command("default")[:-1],  # not --burst: it is killed, not finished
            cwd=ROOT,
            env=worker_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for(lambda: ExchangeSync.objects.filter(pages=1).exists())
            wait_for(lambda: len(feed.requests) >= 2)  # waiting for the slow page
        finally:
            for pid in [*children(worker.pid), worker.pid]:
                os.kill(pid, signal.SIGKILL)
            worker.wait(10)
        sync = ExchangeSync.objects.get()
        assert sync.status == "running" and sync.pages == 1
        assert BankEntry.objects.filter(bank=bank).count() == 3
        exchange.refresh_from_db()
        assert exchange.checkpoint == {"checkpoint": "3"}

        # The dead worker's lease runs out; the next sync (asked for again) takes over.
        Exchange.objects.filter(pk=exchange.pk).update(
            sync_lease_until=timezone.now() - timedelta(seconds=1)
        )
        exchange_sync_request(exchange=exchange, user=supervisor)
        run_burst_worker("default")

        sync.refresh_from_db()
        assert sync.status == "succeeded" and sync.attempts == 2 and sync.pages == 4
        assert (sync.added, sync.removed) == (9, 1)
        live = BankEntry.objects.filter(bank=bank, removed_at__isnull=True)
        assert sorted(live.values_list("source_id", flat=True)) == [
            str(n) for n in (1, 3, 4, 5, 6, 7, 8, 9)
        ]
        # Each hash once, each item listing it once.
        assert BankEntry.objects.filter(bank=bank).count() == 9
        assert EntrySource.objects.count() == 8
    finally:
        server.shutdown()
