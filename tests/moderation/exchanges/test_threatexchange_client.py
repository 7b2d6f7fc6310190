"""The ThreatExchange client against a fake of the Graph API (fake_threatexchange.py): windows of
/threat_updates and their paging, resuming, withdrawals, the errors a sync tells apart, and
reactions as match feedback."""

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
from moderation.exchanges.clients.threatexchange import (
    SETTLE_SECONDS,
    STALE_SECONDS,
    ThreatExchangeClient,
)
from moderation.exchanges.models import Exchange
from moderation.exchanges.sync import exchange_sync
from tests.moderation.exchanges import fake_threatexchange as fake
from tests.moderation.exchanges.fake_http import pdq, running
from tests.moderation.exchanges.fake_threatexchange import descriptor, indicator

ENV = "VIGIL_TEST_TE"
NOW = 1_800_000_000
T0 = NOW - 10 * 24 * 3600


@pytest.fixture
def server():
    with running(fake.FakeThreatExchange(), fake.start) as te:
        yield te


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv(f"{ENV}_ACCESS_TOKEN", fake.TOKEN)


def make_client(server, **options) -> ThreatExchangeClient:
    # The client reads only the exchange's settings: an unsaved one will do.
    exchange = Exchange(
        name="ThreatExchange",
        slug="te",
        kind="threatexchange",
        url=server.url,
        credentials_env=ENV,
        options={"privacy_group": fake.PRIVACY_GROUP, "page_size": 2, **options},
    )
    client = client_for(exchange)
    client.clock = lambda: NOW
    return client


@pytest.fixture
def client(server, token):
    return make_client(server)


def ids(pages) -> list[str]:
    return [u.source_id for page in pages for u in page.updates]


def test_it_is_the_registered_client_and_takes_feedback(client):
    assert isinstance(client, ThreatExchangeClient)
    assert client.takes_feedback


def test_it_fetches_every_page_of_a_window_with_its_token(client, server):
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(5)]

    pages = list(client.fetch({}))

    assert [len(p.updates) for p in pages] == [2, 2, 1]
    assert [p.last for p in pages] == [False, False, True]
    assert ids(pages) == ["100", "101", "102", "103", "104"]
    first = pages[0].updates[0]
    assert first.signals == (Signal("pdq", pdq(0)),)
    assert first.labels == ("threatexchange", "csam", "te_descriptor:9100")
    assert not first.deleted
    # The first window is the whole list up to a moment ago; its pages follow the cursor.
    fetches = server.fetches()
    stop = str(NOW - SETTLE_SECONDS)
    assert "start_time" not in fetches[0]
    assert fetches[0]["stop_time"] == stop and fetches[0]["limit"] == "2"
    assert fetches[0]["access_token"] == fake.TOKEN
    assert "descriptors{id,owner{id},status,tags}" in fetches[0]["fields"]
    assert all(f["after"] and f["stop_time"] == stop for f in fetches[1:])
    # The next sync starts where this window stopped.
    assert pages[-1].checkpoint == {"start_time": NOW - SETTLE_SECONDS}
    assert client.complete_list


def test_it_keeps_the_token_out_of_its_checkpoints(client, server):
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(3)]

    pages = list(client.fetch({}))

    assert all(fake.APP_SECRET not in repr(p.checkpoint) for p in pages)


def test_it_resumes_a_window_from_a_checkpoint_with_exactly_the_rest(client, server):
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(5)]
    first = next(client.fetch({}))
    assert first.checkpoint["after"]

    # Later (the window is the one the checkpoint names, not one up to the new now).
    client.clock = lambda: NOW + 3600
    rest = list(client.fetch(first.checkpoint))

    assert ids(rest) == ["102", "103", "104"]
    assert rest[-1].last
    assert rest[-1].checkpoint == {"start_time": NOW - SETTLE_SECONDS}
    # A resumed window is not the whole list walked in one go.
    assert not client.complete_list


def test_it_fetches_the_window_again_when_its_saved_cursor_is_refused(client, server):
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(5)]
    first = next(client.fetch({}))
    server.expire_cursors()

    rest = list(client.fetch(first.checkpoint))

    # From the window's start again: 100 and 101 come twice, which changes nothing.
    assert ids(rest) == ["100", "101", "102", "103", "104"]
    assert rest[0].notes == ["The saved page cursor was refused: the window was fetched again."]
    assert rest[-1].checkpoint == {"start_time": NOW - SETTLE_SECONDS}
    # From the list's beginning, in this one fetch: a whole walk.
    assert client.complete_list


def test_it_fetches_only_what_changed_since_the_last_sync(client, server):
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(3)]
    checkpoint = list(client.fetch({}))[-1].checkpoint
    stopped = checkpoint["start_time"]
    # Updates from the window's stop on: 101 updated again, a new one.
    server.indicators[1]["last_updated"] = stopped
    server.indicators.append(indicator("200", pdq(9), updated=stopped + 30))

    client.clock = lambda: NOW + 3600
    pages = list(client.fetch(checkpoint))

    assert ids(pages) == ["101", "200"]
    assert server.fetches()[-1]["start_time"] == str(stopped)
    assert pages[-1].checkpoint == {"start_time": NOW + 3600 - SETTLE_SECONDS}
    assert not client.complete_list


def test_it_asks_nothing_when_synced_again_within_the_settling_time(client, server):
    checkpoint = {"start_time": NOW - 10}

    pages = list(client.fetch(checkpoint))

    assert [(p.updates, p.checkpoint, p.last) for p in pages] == [([], checkpoint, True)]
    assert server.requests == []


def test_it_fetches_the_whole_list_again_after_a_checkpoint_too_old_for_deletions(client, server):
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(3)]

    pages = list(client.fetch({"start_time": NOW - STALE_SECONDS - 1}))

    assert ids(pages) == ["100", "101", "102"]
    assert "start_time" not in server.fetches()[0]
    assert "85 days" in pages[0].notes[0]
    # The sync then withdraws what this walk did not list.
    assert client.complete_list


def test_it_reads_withdrawals(client, server):
    server.indicators = [
        indicator("100", pdq(0), updated=T0),
        indicator("101", "", updated=T0 + 1, deleted=True),
        # No descriptor visible any more (the API's issue 834): gone as well.
        indicator("102", pdq(2), updated=T0 + 2, descriptors=[]),
        # Every member who gave an opinion found it benign.
        indicator(
            "103",
            pdq(3),
            updated=T0 + 3,
            descriptors=[descriptor("9103", status="NON_MALICIOUS")],
        ),
    ]

    updates = [u for page in client.fetch({}) for u in page.updates]

    assert [(u.source_id, u.deleted, u.signals) for u in updates] == [
        ("100", False, (Signal("pdq", pdq(0)),)),
        ("101", True, ()),
        ("102", True, ()),
        ("103", True, ()),
    ]


def test_it_maps_the_types_vigil_holds_and_notes_the_others(server, token):
    md5, sha = "ab" * 16, "cd" * 32
    video = descriptor("9", tags=("csam", "media_type_video"))
    server.indicators = [
        indicator("100", md5, updated=T0, threat_type="HASH_MD5"),
        indicator("101", md5.upper(), updated=T0 + 1, threat_type="HASH_MD5", descriptors=[video]),
        indicator("102", sha, updated=T0 + 2, threat_type="HASH_VIDEO_SHA256"),
        indicator("103", sha, updated=T0 + 3, threat_type="HASH_SHA256"),
        indicator("104", "tmk-data", updated=T0 + 4, threat_type="HASH_TMK"),
        indicator("105", "https://x.example/", updated=T0 + 5, threat_type="URI"),
        indicator("106", "tmk-more", updated=T0 + 6, threat_type="HASH_TMK"),
    ]

    (page,) = list(make_client(server, page_size=10).fetch({}))

    updates = page.updates
    assert [(u.source_id, u.signals) for u in updates] == [
        ("100", (Signal("md5", md5),)),
        ("101", (Signal("video_md5", md5),)),
        ("102", (Signal("video_sha256", sha),)),
        ("103", (Signal("sha256", sha),)),
    ]
    assert updates[1].labels == ("threatexchange", "csam", "media_type_video", "te_descriptor:9")
    # Once per reason and page.
    assert page.notes == [
        "Skipped 2 indicator(s): type 'HASH_TMK' is not one Vigil holds.",
        "Skipped 1 indicator(s): type 'URI' is not one Vigil holds.",
    ]


def test_it_labels_only_other_members_descriptors_for_feedback(client, server):
    server.indicators = [
        indicator(
            "100",
            pdq(0),
            updated=T0,
            descriptors=[
                descriptor("92", tags=("csam",)),
                descriptor("91", owner=fake.APP_ID, tags=("csam", "uploaded_by_vigil")),
                descriptor("93", owner="3", status="NON_MALICIOUS", tags=("benign",)),
            ],
        )
    ]

    (update,) = next(client.fetch({})).updates

    assert update.labels == ("threatexchange", "csam", "uploaded_by_vigil", "te_descriptor:92")


def test_it_says_when_the_credentials_are_refused_without_the_secret(server, monkeypatch):
    monkeypatch.setenv(f"{ENV}_ACCESS_TOKEN", f"{fake.APP_ID}|a-wrong-secret-123456")
    client = make_client(server)

    with pytest.raises(ExchangeAuthFailed) as e:
        next(client.fetch({}))

    # The fake quotes the token back, as the Graph API may: the message does not.
    assert "code 190" in str(e.value)
    assert "a-wrong-secret-123456" not in str(e.value)
    assert fake.APP_ID not in str(e.value)


@pytest.mark.parametrize("status", [401, 403])
def test_it_reads_an_oauth_exception_with_other_statuses_as_refused(server, token, status):
    server.token, server.auth_status = "another|token", status

    with pytest.raises(ExchangeAuthFailed):
        next(make_client(server).fetch({}))


def test_it_makes_an_app_token_from_the_app_id_and_secret(server, monkeypatch):
    monkeypatch.setenv(f"{ENV}_APP_ID", fake.APP_ID)
    monkeypatch.setenv(f"{ENV}_APP_SECRET", fake.APP_SECRET)
    server.indicators = [indicator("100", pdq(0), updated=T0)]

    assert ids(make_client(server).fetch({})) == ["100"]


def test_it_says_when_the_credentials_are_missing(server, monkeypatch):
    monkeypatch.setenv(f"{ENV}_APP_ID", fake.APP_ID)

    with pytest.raises(ExchangeAuthFailed) as e:
        next(make_client(server).fetch({}))

    assert "not set" in str(e.value)
    assert server.requests == []


def test_it_needs_the_privacy_group(server, token):
    with pytest.raises(ExchangeError, match="privacy_group"):
        next(make_client(server, privacy_group="").fetch({}))
    assert server.requests == []


def test_it_says_when_the_privacy_group_is_unknown(server, token):
    with pytest.raises(ExchangeMalformed, match="code 100"):
        next(make_client(server, privacy_group="12345").fetch({}))


@pytest.mark.parametrize(("behaviour", "wait"), [("throttle", 60), ("429", 7)])
def test_it_says_when_asked_to_slow_down(client, server, behaviour, wait):
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(5)]
    server.script["threat_updates"] = ["ok", behaviour]
    pages = client.fetch({})
    first = next(pages)

    with pytest.raises(ExchangeRateLimited) as e:
        next(pages)

    assert e.value.retry_after == wait
    assert "code 4" in str(e.value)
    # What was applied stays applied: the sync resumes after the first page.
    assert ids(client.fetch(first.checkpoint)) == ["102", "103", "104"]


@pytest.mark.parametrize("status", ["500", "503"])
def test_it_says_when_threatexchange_fails(client, server, status):
    server.script["threat_updates"] = [status]

    with pytest.raises(ExchangeUnavailable, match=status):
        next(client.fetch({}))


def test_it_says_when_threatexchange_cannot_be_reached(server, token):
    client = make_client(server)
    client.exchange.url = "http://127.0.0.1:9/v21.0"

    with pytest.raises(ExchangeUnavailable, match="could not be reached"):
        next(client.fetch({}))


@pytest.mark.parametrize("behaviour", ["malformed", "no_data"])
def test_it_refuses_a_page_it_cannot_read(client, server, behaviour):
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(5)]
    server.script["threat_updates"] = ["ok", behaviour]
    pages = client.fetch({})
    next(pages)

    with pytest.raises(ExchangeMalformed):
        next(pages)


def test_it_follows_no_redirect(client, server):
    # A GET carries the token in its query: it goes to the API and nowhere else.
    server.script["threat_updates"] = ["redirect"]

    with pytest.raises(ExchangeMalformed, match="302"):
        next(client.fetch({}))

    assert [r.path for r in server.requests] == [f"/v21.0/{fake.PRIVACY_GROUP}/threat_updates"]


def test_it_skips_an_indicator_it_cannot_read_but_not_the_page(client, server):
    server.indicators = [
        indicator("100", pdq(0), updated=T0),
        indicator("101", "", updated=T0 + 1),
    ]

    (page,) = list(client.fetch({}))

    assert ids([page]) == ["100"]
    assert page.notes == ["Skipped 1 indicator(s): without an indicator."]


def feedback(verdict: str, labels=("threatexchange", "csam", "te_descriptor:9100")):
    return FeedbackItem(
        source_id="100", signal=Signal("pdq", pdq(0)), verdict=verdict, labels=labels
    )


def test_it_reacts_to_the_descriptors_behind_an_entry(client, server):
    server.indicators = [
        indicator("100", pdq(0), updated=T0, descriptors=[descriptor("9100"), descriptor("9101")])
    ]
    (update,) = next(client.fetch({})).updates

    client.send_feedback(feedback("agree", update.labels))

    assert server.reactions == [
        {
            "descriptor": "9100",
            "add": ["SAW_THIS_TOO", "HELPFUL"],
            "remove": ["DISAGREE_WITH_TAGS"],
        },
        {
            "descriptor": "9101",
            "add": ["SAW_THIS_TOO", "HELPFUL"],
            "remove": ["DISAGREE_WITH_TAGS"],
        },
    ]
    # The token went in the form body, not in the address.
    posts = [r for r in server.requests if r.method == "POST"]
    assert all(r.params["access_token"] == fake.TOKEN and not r.query for r in posts)


def test_it_takes_back_an_agreement_when_a_later_verdict_disagrees(client, server):
    server.indicators = [indicator("100", pdq(0), updated=T0)]

    client.send_feedback(feedback("agree"))
    client.send_feedback(feedback("disagree"))

    assert server.my_reactions == {"9100": {"SAW_THIS_TOO", "DISAGREE_WITH_TAGS"}}


def test_it_cannot_react_without_a_descriptor(client, server):
    with pytest.raises(ExchangeError, match="no other member's descriptor"):
        client.send_feedback(feedback("agree", labels=("threatexchange", "csam")))
    with pytest.raises(ExchangeError, match="no verdict"):
        client.send_feedback(feedback("maybe"))
    assert server.requests == []


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [("throttle", ExchangeRateLimited), ("500", ExchangeUnavailable)],
)
def test_it_says_when_a_reaction_was_not_taken(client, server, behaviour, error):
    server.indicators = [indicator("100", pdq(0), updated=T0)]
    server.script["reactions"] = [behaviour]

    with pytest.raises(error):
        client.send_feedback(feedback("agree"))

    assert server.reactions == []


def test_it_says_when_a_reaction_is_refused(client, server):
    with pytest.raises(ExchangeMalformed, match="code 100"):
        client.send_feedback(feedback("agree", labels=("te_descriptor:12345",)))


def test_it_needs_credentials_to_react(server, monkeypatch):
    client = make_client(server)

    with pytest.raises(ExchangeAuthFailed):
        client.send_feedback(feedback("agree"))

    assert server.requests == []


@pytest.mark.django_db
def test_it_syncs_a_bank_through_exchange_sync(server, token, monkeypatch):
    bank = HashBank.objects.create(name="ThreatExchange", slug="te", signal_types=["pdq", "md5"])
    exchange = Exchange.objects.create(
        name="ThreatExchange",
        slug="te",
        kind="threatexchange",
        bank=bank,
        url=server.url,
        credentials_env=ENV,
        options={"privacy_group": fake.PRIVACY_GROUP, "page_size": 2},
    )
    server.indicators = [indicator(str(100 + n), pdq(n), updated=T0 + n) for n in range(3)]
    server.indicators += [
        indicator("103", "ab" * 16, updated=T0 + 3, threat_type="HASH_MD5"),
        indicator("104", "tmk-data", updated=T0 + 4, threat_type="HASH_TMK"),
    ]
    monkeypatch.setattr(ThreatExchangeClient, "clock", staticmethod(lambda: NOW))

    done = exchange_sync(exchange_id=exchange.pk)

    assert done.status == "succeeded"
    assert (done.pages, done.added, done.removed) == (3, 4, 0)
    assert "type 'HASH_TMK' is not one Vigil holds" in done.error
    live = BankEntry.objects.filter(bank=bank, removed_at__isnull=True)
    assert {(e.source_id, e.signal_type, e.exchange_id) for e in live} == {
        ("100", "pdq", exchange.pk),
        ("101", "pdq", exchange.pk),
        ("102", "pdq", exchange.pk),
        ("103", "md5", exchange.pk),
    }
    exchange.refresh_from_db()
    assert exchange.checkpoint == {"start_time": NOW - SETTLE_SECONDS}

    # An hour later: 101 withdrawn from the group, 102 tagged again, 105 new.
    later = NOW - SETTLE_SECONDS
    server.indicators[1] = indicator("101", "", updated=later, deleted=True)
    server.indicators[2]["descriptors"] = [descriptor("9102", tags=("csam", "sextortion"))]
    server.indicators[2]["last_updated"] = later + 1
    server.indicators.append(indicator("105", pdq(5), updated=later + 2))
    monkeypatch.setattr(ThreatExchangeClient, "clock", staticmethod(lambda: NOW + 3600))

    again = exchange_sync(exchange_id=exchange.pk)

    assert (again.status, again.added, again.updated, again.removed) == ("succeeded", 1, 1, 1)
    assert set(live.values_list("source_id", flat=True)) == {"100", "102", "103", "105"}
    assert live.get(source_id="102").labels == [
        "threatexchange",
        "csam",
        "sextortion",
        "te_descriptor:9102",
    ]
    # A verdict on an entry finds its descriptor through the entry's labels.
    entry = live.get(source_id="102")
    make_client(server).send_feedback(
        FeedbackItem(
            source_id=entry.source_id,
            signal=Signal(entry.signal_type, entry.value),
            verdict="disagree",
            labels=tuple(entry.labels),
        )
    )
    assert server.my_reactions == {"9102": {"DISAGREE_WITH_TAGS"}}
