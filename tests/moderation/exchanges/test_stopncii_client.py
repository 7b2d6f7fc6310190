"""The StopNCII client against a fake of its API (fake_stopncii.py): paging, resuming, withdrawals,
the errors a sync tells apart, and match feedback."""

import json
import time

import pytest

from moderation.banks.models import BankEntry, HashBank
from moderation.exchanges.clients import client_for
from moderation.exchanges.clients.base import (
    ExchangeAuthFailed,
    ExchangeError,
    ExchangeMalformed,
    ExchangeRateLimited,
    ExchangeUnavailable,
    FeedbackItem,
    Signal,
)
from moderation.exchanges.clients.stopncii import StopNciiClient
from moderation.exchanges.models import Exchange
from moderation.exchanges.sync import exchange_sync
from tests.moderation.exchanges import fake_stopncii
from tests.moderation.exchanges.fake_http import pdq, running
from tests.moderation.exchanges.fake_stopncii import record

ENV = "VIGIL_TEST_STOPNCII"


@pytest.fixture
def server():
    with running(fake_stopncii.FakeStopNcii(), fake_stopncii.start) as fake:
        yield fake


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv(f"{ENV}_SUBSCRIPTION_KEY", fake_stopncii.SUBSCRIPTION_KEY)
    monkeypatch.setenv(f"{ENV}_FETCH_KEY", fake_stopncii.FETCH_KEY)
    monkeypatch.setenv(f"{ENV}_FEEDBACK_KEY", fake_stopncii.FEEDBACK_KEY)


@pytest.fixture
def client(server, keys):
    # The client reads only the exchange's settings: an unsaved one will do.
    exchange = Exchange(
        name="StopNCII",
        slug="stopncii",
        kind="stopncii",
        url=server.url,
        credentials_env=ENV,
        options={"page_size": 2},
    )
    return client_for(exchange)


def ids(pages) -> list[str]:
    return [u.source_id for page in pages for u in page.updates]


def test_it_is_the_registered_client_and_takes_feedback(client):
    assert isinstance(client, StopNciiClient)
    assert client.takes_feedback


def test_it_fetches_every_page_with_its_keys(client, server):
    server.records = [record(pdq(n), modified=1000 + n) for n in range(5)]

    pages = list(client.fetch({}))

    assert [len(p.updates) for p in pages] == [2, 2, 1]
    assert [p.last for p in pages] == [False, False, True]
    assert ids(pages) == [f"ImagePDQ:{pdq(n)}" for n in range(5)]
    first = pages[0].updates[0]
    assert first.signals == (Signal("pdq", pdq(0)),)
    assert first.labels == ("stopncii", "status:active", "cases:1", "case:case-00000000")
    assert not first.deleted
    # The first walk starts at the API's own beginning; the rest follow its cursor.
    fetches = server.fetches()
    assert fetches[0] == {"startTimestamp": "10", "pageSize": "2"}
    assert all(f["startTimestamp"] == "10" and f["nextPageToken"] for f in fetches[1:])
    request = server.requests[0]
    assert request.headers["ocp-apim-subscription-key"] == fake_stopncii.SUBSCRIPTION_KEY
    assert request.headers["x-functions-key"] == fake_stopncii.FETCH_KEY
    # The next sync starts where the API said to, no earlier.
    assert pages[-1].checkpoint == {"start_timestamp": 1004}


def test_it_resumes_from_a_checkpoint_with_exactly_the_rest(client, server):
    server.records = [record(pdq(n), modified=1000 + n) for n in range(5)]
    first = next(client.fetch({}))
    assert first.checkpoint["page_token"]

    rest = list(client.fetch(first.checkpoint))

    assert ids(rest) == [f"ImagePDQ:{pdq(n)}" for n in range(2, 5)]
    assert rest[-1].last


def test_it_fetches_only_what_changed_since_the_last_sync(client, server):
    server.records = [record(pdq(n), modified=1000 + n) for n in range(3)]
    checkpoint = list(client.fetch({}))[-1].checkpoint
    server.records.append(record(pdq(9), modified=2000))

    pages = list(client.fetch(checkpoint))

    # The record at the checkpoint's own second may come again (a record is a whole state, so
    # applying it again changes nothing); nothing older does.
    assert ids(pages) == [f"ImagePDQ:{pdq(2)}", f"ImagePDQ:{pdq(9)}"]
    assert server.fetches()[-1]["startTimestamp"] == "1002"


def test_it_walks_again_from_its_timestamp_when_the_saved_token_is_old(client, server):
    server.records = [record(pdq(n), modified=1000 + n) for n in range(5)]
    first = next(client.fetch({}))
    stale = {**first.checkpoint, "token_at": int(time.time()) - 2 * 3600}
    server.expire_tokens()

    pages = list(client.fetch(stale))

    assert ids(pages) == [f"ImagePDQ:{pdq(n)}" for n in range(5)]
    assert "old" in pages[0].notes[0]
    assert "nextPageToken" not in server.fetches()[-3]


def test_it_walks_again_from_its_timestamp_when_the_api_refuses_its_token(client, server):
    server.records = [record(pdq(n), modified=1000 + n) for n in range(5)]
    first = next(client.fetch({}))
    server.expire_tokens()

    pages = list(client.fetch(first.checkpoint))

    assert ids(pages) == [f"ImagePDQ:{pdq(n)}" for n in range(5)]
    assert "refused the page token" in pages[0].notes[0]


def test_it_gives_up_when_a_fresh_walk_is_refused_too(client, server):
    server.records = [record(pdq(n), modified=1000 + n) for n in range(5)]
    first = next(client.fetch({}))
    server.expire_tokens()
    # The walk again from the start is refused as well.
    server.script["FetchHashes"] = ["400", "400"]

    with pytest.raises(ExchangeMalformed, match="400"):
        list(client.fetch(first.checkpoint))


def test_it_removes_hashes_withdrawn_or_deleted(client, server):
    server.records = [
        record(pdq(1), modified=1001, status="Withdrawn"),
        record(pdq(2), modified=1002, status="Deleted"),
        # Every case withdrawn: gone, whatever the aggregate status says.
        record(pdq(3), modified=1003, cases={"c-1": "Withdrawn", "c-2": "Deleted"}),
        # One case of two withdrawn: the hash stays, labelled with the case still open only.
        record(pdq(4), modified=1004, cases={"c-2": "Withdrawn", "c-1": "Active"}),
    ]

    updates = [u for page in client.fetch({}) for u in page.updates]

    assert [(u.source_id, u.deleted) for u in updates] == [
        (f"ImagePDQ:{pdq(1)}", True),
        (f"ImagePDQ:{pdq(2)}", True),
        (f"ImagePDQ:{pdq(3)}", True),
        (f"ImagePDQ:{pdq(4)}", False),
    ]
    assert updates[0].signals == () and updates[0].labels == ()
    assert updates[3].labels == ("stopncii", "status:active", "cases:1", "case:c-1")


def test_it_takes_video_md5_and_skips_what_vigil_does_not_hold(client, server):
    md5 = "9e107d9d372bb6826bd81d3542a419d6"
    server.records = [
        record(md5.upper(), modified=1001, signal_type="VideoMD5"),
        record("a" * 32, modified=1002, signal_type="VideoTMK"),
        record("not-hex" * 9, modified=1003),
        record(pdq(4), modified=1004, status="Frozen"),
    ]
    client.exchange.options = {"page_size": 10}

    (page,) = list(client.fetch({}))

    assert [(u.source_id, u.signals) for u in page.updates] == [
        (f"VideoMD5:{md5}", (Signal("video_md5", md5),))
    ]
    assert page.notes == [
        "Skipped 1 record(s): a status that is not documented.",
        "Skipped 1 record(s): not a ImagePDQ hash value.",
        "Skipped 1 record(s): signal type 'VideoTMK' is not one Vigil holds.",
    ]


@pytest.mark.parametrize("which", ["subscription", "FetchHashes"])
def test_it_says_when_the_keys_are_refused(client, server, which):
    server.keys[which] = "another-key"

    with pytest.raises(ExchangeAuthFailed) as refused:
        list(client.fetch({}))

    assert "401" in str(refused.value)
    assert fake_stopncii.FETCH_KEY not in str(refused.value)
    assert fake_stopncii.SUBSCRIPTION_KEY not in str(refused.value)


def test_it_says_when_the_credentials_are_not_set(client, server, monkeypatch):
    monkeypatch.delenv(f"{ENV}_FETCH_KEY")

    with pytest.raises(ExchangeAuthFailed) as missing:
        list(client.fetch({}))

    assert "not set" in str(missing.value)
    assert fake_stopncii.SUBSCRIPTION_KEY not in str(missing.value)
    assert server.requests == []


def test_it_passes_the_retry_after_of_a_429_on(client, server):
    server.records = [record(pdq(1), modified=1001)]
    server.script["FetchHashes"] = ["429"]
    server.retry_after = 42

    with pytest.raises(ExchangeRateLimited) as slowed:
        list(client.fetch({}))

    assert slowed.value.retry_after == 42


def test_it_keeps_the_pages_it_had_when_the_api_fails_later(client, server):
    server.records = [record(pdq(n), modified=1000 + n) for n in range(5)]
    server.script["FetchHashes"] = ["ok", "503"]
    pages = client.fetch({})

    first = next(pages)
    with pytest.raises(ExchangeUnavailable, match="503"):
        next(pages)

    # The sync applied the first page and its checkpoint: the next attempt goes on from there.
    assert ids(list(client.fetch(first.checkpoint))) == [f"ImagePDQ:{pdq(n)}" for n in range(2, 5)]


def test_it_refuses_a_page_it_cannot_read_and_says_which(client, server):
    server.records = [record(pdq(n), modified=1000 + n) for n in range(5)]
    server.script["FetchHashes"] = ["ok", "malformed"]
    pages = client.fetch({})
    next(pages)

    with pytest.raises(ExchangeMalformed, match="page 2"):
        next(pages)


def test_it_sends_agreement_as_blocked_and_disagreement_as_not_blocked(client, server):
    for verdict in ("agree", "disagree"):
        client.send_feedback(
            FeedbackItem(
                source_id=f"ImagePDQ:{pdq(1)}",
                signal=Signal("pdq", pdq(1)),
                verdict=verdict,
                labels=("stopncii", "case:c-1"),
            )
        )

    assert server.feedback == [
        {"hashValue": pdq(1), "feedbackValue": "Blocked", "tags": []},
        {"hashValue": pdq(1), "feedbackValue": "NotBlocked", "tags": []},
    ]
    request = server.requests[0]
    assert (request.method, request.endpoint) == ("POST", "SubmitFeedback")
    assert request.headers["x-functions-key"] == fake_stopncii.FEEDBACK_KEY
    assert request.headers["ocp-apim-subscription-key"] == fake_stopncii.SUBSCRIPTION_KEY
    assert json.loads(request.body)["count"] == 1


def test_it_needs_the_feedback_key_to_send_feedback(client, server, monkeypatch):
    monkeypatch.delenv(f"{ENV}_FEEDBACK_KEY")
    item = FeedbackItem(source_id="x", signal=Signal("pdq", pdq(1)), verdict="agree")

    with pytest.raises(ExchangeAuthFailed) as missing:
        client.send_feedback(item)

    assert fake_stopncii.SUBSCRIPTION_KEY not in str(missing.value)
    assert server.requests == []


def test_it_says_when_feedback_is_refused(client, server):
    server.script["SubmitFeedback"] = ["500"]
    item = FeedbackItem(source_id="x", signal=Signal("pdq", pdq(1)), verdict="agree")

    with pytest.raises(ExchangeUnavailable):
        client.send_feedback(item)
    with pytest.raises(ExchangeError, match="no verdict"):
        client.send_feedback(
            FeedbackItem(source_id="x", signal=Signal("pdq", pdq(1)), verdict="maybe")
        )
    assert server.feedback == []


@pytest.mark.django_db
def test_it_syncs_a_bank_through_exchange_sync(server, keys):
    bank = HashBank.objects.create(name="StopNCII", slug="ncii", signal_types=["pdq", "video_md5"])
    exchange = Exchange.objects.create(
        name="StopNCII",
        slug="stopncii",
        kind="stopncii",
        bank=bank,
        url=server.url,
        credentials_env=ENV,
        options={"page_size": 2},
    )
    server.records = [record(pdq(n), modified=1000 + n) for n in range(1, 6)]

    sync = exchange_sync(exchange_id=exchange.pk)

    assert (sync.status, sync.pages, sync.added, sync.removed) == ("succeeded", 3, 5, 0)
    entry = BankEntry.objects.get(bank=bank, value=pdq(1))
    assert (entry.exchange_id, entry.source_id) == (exchange.pk, f"ImagePDQ:{pdq(1)}")
    assert entry.labels == ["stopncii", "status:active", "cases:1", "case:case-01010101"]

    # The person behind one hash withdraws it; another is added.
    server.records[0] = record(pdq(1), modified=3000, status="Withdrawn")
    server.records.append(record(pdq(7), modified=3001))
    again = exchange_sync(exchange_id=exchange.pk)

    assert (again.status, again.added, again.removed) == ("succeeded", 1, 1)
    live = BankEntry.objects.filter(bank=bank, removed_at__isnull=True)
    assert sorted(live.values_list("value", flat=True)) == [pdq(n) for n in (2, 3, 4, 5, 7)]
    exchange.refresh_from_db()
    assert exchange.checkpoint == {"start_timestamp": 3001}
