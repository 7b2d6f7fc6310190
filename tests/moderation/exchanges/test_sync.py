"""Syncing a bank from an exchange (moderation/exchanges/sync.py), with the generic HTTPS feed
client against a local fake feed: incremental, resumable, idempotent, recorded and audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.banks.matching import forget_indexes
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.cases.models import Case
from moderation.cases.priority import BankMatch
from moderation.exchanges.models import Exchange, ExchangeSync
from moderation.exchanges.services import exchanges_enqueue_due
from moderation.exchanges.sync import LEASE_SECONDS, SyncBusy, exchange_sync
from reports.hashing import hash_bytes
from tests.moderation.exchanges.fake_feed import TOKEN, FakeFeed, start_feed
from tests.moderation.signals import known_image, report_image

PDQ = ["f" * 64, "0f" * 32, "a5" * 32, "3c" * 32, "99" * 32, "e1" * 32]


@pytest.fixture
def feed():
    fake = FakeFeed()
    server = start_feed(fake)
    yield fake
    server.shutdown()


@pytest.fixture
def bank(db):
    return HashBank.objects.create(name="Partner list", slug="partner", signal_types=["pdq", "md5"])


@pytest.fixture
def exchange(bank, feed):
    def make(mode="list", **fields):
        path = "/list" if mode == "list" else "/changes"
        return Exchange.objects.create(
            name="Partner feed",
            slug=f"partner-{mode}",
            kind=Exchange.Kind.HTTPS_FEED,
            bank=bank,
            url=feed.url + path,
            options={"mode": mode},
            **fields,
        )

    return make


def live(bank):
    return BankEntry.objects.filter(bank=bank, removed_at__isnull=True)


def sync(exchange):
    return exchange_sync(exchange_id=exchange.pk)


@pytest.mark.django_db
class TestAWholeList:
    def test_it_adds_the_list_with_its_provenance_and_records_the_sync(self, feed, exchange, bank):
        feed.lines = ["signal_type,signal_str", f"pdq,{PDQ[0]},csam,A1", f"md5 {'ab' * 16}"]
        ex = exchange()
        done = sync(ex)
        assert (done.status, done.pages, done.added, done.removed) == ("succeeded", 1, 2, 0)
        assert done.finished_at and done.error == ""
        entry = live(bank).get(signal_type="pdq")
        assert entry.exchange == ex and entry.source_id == f"pdq:{PDQ[0]}"
        assert entry.labels == ["csam", "A1"]
        assert entry.first_seen_at == entry.last_seen_at
        assert entry.added_at == done.started_at  # one rematch covers all the sync added
        ex.refresh_from_db()
        assert ex.checkpoint == {"etag": feed.etag()} and ex.failures == 0 and not ex.sync_lease
        verbs = list(AuditEvent.objects.values_list("verb", flat=True))
        assert "exchange.sync_started" in verbs and "exchange.synced" in verbs

    def test_an_unchanged_list_costs_a_304_and_changes_nothing(self, feed, exchange, bank):
        feed.lines = [f"pdq,{PDQ[0]}"]
        ex = exchange()
        sync(ex)
        again = sync(ex)
        assert (again.status, again.added, again.updated, again.removed) == ("succeeded", 0, 0, 0)
        assert live(bank).count() == 1

    def test_what_the_list_no_longer_names_is_withdrawn_and_its_matches_marked(
        self, feed, exchange, bank, submit_report, png_upload
    ):
        feed.lines = [f"pdq,{PDQ[0]},old", f"pdq,{PDQ[1]}"]
        ex = exchange()
        sync(ex)
        gone = live(bank).get(value=PDQ[1])
        media = submit_report(images=[png_upload()]).media.get()
        match = Match.objects.create(media=media, entry=gone, signal_type="pdq", distance=0)
        feed.lines = [f"pdq,{PDQ[0]},new", f"pdq,{PDQ[2]}"]
        done = sync(ex)
        assert (done.added, done.updated, done.removed) == (1, 1, 1)
        assert set(live(bank).values_list("value", flat=True)) == {PDQ[0], PDQ[2]}
        assert live(bank).get(value=PDQ[0]).labels == ["new"]
        match.refresh_from_db()
        assert match.withdrawn_at is not None
        assert AuditEvent.objects.filter(verb="exchange.entries_withdrawn").exists()

    def test_a_bad_hash_is_skipped_and_named_the_rest_applied(self, feed, exchange, bank):
        feed.lines = [f"pdq,{PDQ[0]}", "pdq,xyz", "sha256," + "ab" * 32]
        done = sync(exchange())
        assert done.status == "succeeded" and done.added == 1
        assert "pdq:xyz" in done.error and "does not hold sha256" in done.error

    def test_a_list_that_is_not_text_fails_the_sync_and_keeps_the_bank(self, feed, exchange, bank):
        feed.lines = [f"pdq,{PDQ[0]}"]
        ex = exchange()
        sync(ex)
        feed.lines.append(f"pdq,{PDQ[1]}")
        feed.script = ["garbage"]
        done = sync(ex)
        assert done.status == "failed" and "not UTF-8" in done.error
        assert live(bank).count() == 1  # nothing withdrawn by a list that could not be read


@pytest.mark.django_db
class TestAnIncrementalFeed:
    def changes(self):
        return [
            {"id": "1", "signal_type": "pdq", "signal": PDQ[0], "labels": ["a"]},
            {"id": "2", "signal_type": "pdq", "signal": PDQ[1]},
            {"id": "3", "signal_type": "md5", "signal": "cd" * 16},
            {"id": "2", "signal_type": "pdq", "signal": PDQ[1], "deleted": True},
            {"id": "4", "signal_type": "pdq", "signal": PDQ[3]},
        ]

    def test_it_pages_through_additions_and_removals(self, feed, exchange, bank):
        feed.changes = self.changes()
        done = sync(exchange("incremental"))
        assert (done.pages, done.added, done.removed) == (3, 4, 1)
        assert set(live(bank).values_list("value", flat=True)) == {PDQ[0], "cd" * 16, PDQ[3]}
        assert [r.split("?")[1] for r in feed.requests] == [
            "format=jsonl",
            "format=jsonl&checkpoint=2",
            "format=jsonl&checkpoint=4",
        ]

    def test_the_next_sync_fetches_only_what_came_since(self, feed, exchange, bank):
        feed.changes = self.changes()
        ex = exchange("incremental")
        sync(ex)
        feed.changes.append({"id": "5", "signal_type": "pdq", "signal": PDQ[4]})
        feed.requests.clear()
        done = sync(ex)
        assert done.added == 1 and feed.requests == ["/changes?format=jsonl&checkpoint=5"]

    def test_a_sync_that_fails_mid_way_resumes_after_its_last_page_without_duplicates(
        self, feed, exchange, bank
    ):
        feed.changes = self.changes()
        ex = exchange("incremental")
        feed.script = ["ok", "500"]  # page one applied, then the programme fails
        failed = sync(ex)
        assert failed.status == "failed" and failed.pages == 1 and live(bank).count() == 2
        ex.refresh_from_db()
        assert ex.checkpoint == {"checkpoint": "2"} and ex.failures == 1
        resumed = sync(ex)
        assert resumed.status == "succeeded" and resumed.pages == 2
        assert live(bank).count() == 3
        # As if it had never failed: the same entries as one clean run gives.
        assert BankEntry.objects.filter(bank=bank).count() == 4  # one removed, none twice

    def test_a_hash_two_items_list_stays_until_both_withdraw_it(self, feed, exchange, bank):
        feed.page_size = 10
        feed.changes = [
            {"id": "m1-7", "signal_type": "md5", "signal": "cd" * 16},
            {"id": "m2-9", "signal_type": "md5", "signal": "cd" * 16},
        ]
        ex = exchange("incremental")
        assert sync(ex).added == 1
        entry = live(bank).get()
        assert sorted(entry.sources.values_list("source_id", flat=True)) == ["m1-7", "m2-9"]
        feed.changes.append(
            {"id": "m1-7", "signal_type": "md5", "signal": "cd" * 16, "deleted": True}
        )
        assert sync(ex).removed == 0
        assert live(bank).get() == entry
        assert list(entry.sources.values_list("source_id", flat=True)) == ["m2-9"]
        feed.changes.append(
            {"id": "m2-9", "signal_type": "md5", "signal": "cd" * 16, "deleted": True}
        )
        assert sync(ex).removed == 1
        assert not live(bank).exists()

    def test_applying_a_page_twice_changes_nothing(self, feed, exchange, bank):
        feed.changes = self.changes()[:2]
        ex = exchange("incremental")
        sync(ex)
        Exchange.objects.filter(pk=ex.pk).update(checkpoint={})  # as if its commit was lost
        again = sync(ex)
        assert (again.added, again.updated, again.removed) == (0, 0, 0)
        assert BankEntry.objects.filter(bank=bank).count() == 2

    def test_a_malformed_page_stops_at_the_last_good_one(self, feed, exchange, bank):
        feed.changes = self.changes()
        ex = exchange("incremental")
        feed.script = ["ok", "garbage"]
        done = sync(ex)
        assert done.status == "failed" and "not a feed line" in done.error
        ex.refresh_from_db()
        assert ex.checkpoint == {"checkpoint": "2"}


@pytest.mark.django_db
class TestFailuresAndTheSchedule:
    def test_refused_credentials_fail_without_the_secret(self, feed, exchange, monkeypatch):
        feed.need_token = True
        monkeypatch.setenv("VIGIL_EXCHANGE_PARTNER_TOKEN", "wrong-secret")
        done = sync(exchange(credentials_env="VIGIL_EXCHANGE_PARTNER"))
        assert done.status == "failed" and "refused the credentials (401)" in done.error
        assert "wrong-secret" not in done.error

    def test_missing_credentials_say_so(self, feed, exchange):
        done = sync(exchange(credentials_env="VIGIL_EXCHANGE_NOT_SET"))
        assert done.status == "failed" and "credentials" in done.error
        assert "VIGIL_EXCHANGE_NOT_SET" not in done.error

    def test_it_reads_a_feed_behind_a_token(self, feed, exchange, monkeypatch, bank):
        feed.need_token, feed.lines = True, [f"pdq,{PDQ[0]}"]
        monkeypatch.setenv("VIGIL_EXCHANGE_PARTNER_TOKEN", TOKEN)
        assert sync(exchange(credentials_env="VIGIL_EXCHANGE_PARTNER")).added == 1

    def test_a_rate_limit_backs_off_at_least_as_long_as_asked(self, feed, exchange):
        ex = exchange()
        feed.script = ["429"]
        before = timezone.now()
        assert sync(ex).status == "failed"
        ex.refresh_from_db()
        assert ex.next_attempt_at >= before + timedelta(seconds=120)

    def test_the_schedule_waits_out_the_backoff_then_tries_again(self, feed, exchange, run_jobs):
        ex = exchange(sync_every_minutes=60)
        feed.lines = [f"pdq,{PDQ[0]}"]

        def due(now=None):
            with run_jobs():
                return exchanges_enqueue_due(now=now)

        assert due() == 1  # never synced
        assert ExchangeSync.objects.get().status == "succeeded"
        assert due() == 0  # synced just now
        feed.script = ["500", "500"]
        later = timezone.now() + timedelta(minutes=61)
        assert due(later) == 1
        ex.refresh_from_db()
        assert ex.failures == 1 and ex.next_attempt_at > timezone.now()
        assert due(ex.next_attempt_at - timedelta(seconds=1)) == 0
        assert due(ex.next_attempt_at + timedelta(seconds=1)) == 1
        ex.refresh_from_db()
        assert ex.failures == 2  # the backoff grows
        Exchange.objects.filter(pk=ex.pk).update(is_enabled=False)
        assert due(later + timedelta(days=1)) == 0

    def test_one_sync_at_a_time_and_a_dead_worker_s_lease_runs_out(self, feed, exchange):
        ex = exchange()
        feed.lines = [f"pdq,{PDQ[0]}"]
        now = timezone.now()
        running = ExchangeSync.objects.create(exchange=ex, attempts=1)
        Exchange.objects.filter(pk=ex.pk).update(
            sync_lease="someone-else", sync_lease_until=now + timedelta(minutes=5)
        )
        with pytest.raises(SyncBusy):
            sync(ex)
        Exchange.objects.filter(pk=ex.pk).update(
            sync_lease_until=now - timedelta(seconds=LEASE_SECONDS)
        )
        done = sync(ex)
        assert done.pk == running.pk and done.attempts == 2 and done.status == "succeeded"


@pytest.mark.django_db
class TestWithdrawalsEndTheirEffects:
    def test_an_entry_withdrawn_at_source_no_longer_raises_the_open_case(
        self, feed, bank, exchange, submit_report, run_jobs
    ):

        pdq = hash_bytes(known_image())["pdq"]
        feed.lines = [f"pdq,{pdq},watch"]
        ex = exchange()
        sync(ex)
        forget_indexes()
        report = report_image(submit_report, known_image())
        assert Case.objects.get(pk=report.case_id).bank_match_level == BankMatch.BANK
        feed.lines = []
        with run_jobs():
            done = sync(ex)
        assert done.removed == 1
        assert Match.objects.get().withdrawn_at is not None
        case = Case.objects.get(pk=report.case_id)
        assert case.bank_match_level == BankMatch.NONE and case.bank_match_label == ""

    def test_media_received_before_is_matched_once_the_sync_lists_it(
        self, feed, exchange, submit_report, run_jobs
    ):
        report = report_image(submit_report, known_image())
        assert not Match.objects.exists()
        feed.lines = [f"pdq,{hash_bytes(known_image())['pdq']}"]
        with run_jobs():
            sync(exchange())
        assert Match.objects.get().media.report_id == report.pk
        assert Case.objects.get(pk=report.case_id).bank_match_level == BankMatch.BANK
