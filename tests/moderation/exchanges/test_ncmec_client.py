"""The NCMEC hash sharing client against a fake of its API (fake_ncmec.py): time windows paged
through, resuming from any checkpoint, changes and deletions at source, the errors a sync tells
apart, and per-fingerprint feedback."""

import hashlib

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
from moderation.exchanges.clients.ncmec import (
    PAGING_VALID_SECONDS,
    SETTLE_SECONDS,
    NcmecClient,
)
from moderation.exchanges.models import Exchange
from moderation.exchanges.sync import exchange_sync
from tests.moderation.exchanges import fake_ncmec
from tests.moderation.exchanges.fake_http import running
from tests.moderation.exchanges.fake_ncmec import FakeEntry

ENV = "VIGIL_TEST_NCMEC"
T0 = 1_700_000_000  # 2023-11-14: the fake list's first entry
HOUR = 3600
NOW = T0 + 40 * HOUR


def md5(n: int) -> str:
    return hashlib.md5(str(n).encode(), usedforsecurity=False).hexdigest()


def pdq(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def entry(n: int, **overrides) -> FakeEntry:
    """Entry n, an hour after entry n-1; odd ones videos (MD5 and SHA1 only, as NCMEC's are)."""
    video = n % 2 == 1
    fingerprints = {"md5": md5(n), "sha1": "ab" * 20}
    if not video:
        fingerprints |= {"pdq": pdq(n), "pdna": "1,2,3,4"}
    values = {
        "member_id": 42 + n % 3,
        "entry_id": f"e{n}",
        "timestamp": T0 + n * HOUR,
        "kind": "video" if video else "image",
        "classification": "A1" if n % 4 else "B2",
        "fingerprints": fingerprints,
    }
    return FakeEntry(**(values | overrides))


@pytest.fixture
def server():
    with running(fake_ncmec.FakeNcmec(page_size=3), fake_ncmec.start) as fake:
        yield fake


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv(f"{ENV}_USER", fake_ncmec.USERNAME)
    monkeypatch.setenv(f"{ENV}_PASSWORD", fake_ncmec.PASSWORD)


def make_client(server, now: int = NOW, **options) -> NcmecClient:
    # The client reads only the exchange's settings: an unsaved one will do.
    exchange = Exchange(
        name="NCMEC",
        slug="ncmec",
        kind="ncmec",
        url=server.url,
        credentials_env=ENV,
        options={"window_max_entries": 8} | options,
    )
    client = client_for(exchange)
    client.clock = lambda: now
    return client


def ids(pages) -> list[str]:
    return [u.source_id for page in pages for u in page.updates]


def test_it_fetches_every_entry_once_across_pages_and_windows(server, credentials):
    for n in range(30):
        server.add(entry(n))

    pages = list(make_client(server).fetch({}))

    assert sorted(ids(pages)) == sorted(f"{42 + n % 3}-e{n}" for n in range(30))
    assert len(ids(pages)) == 30
    windows = {(q["from"], q["to"]) for q in server.entry_queries()}
    assert len(windows) > 3  # 30 entries, no more than 8 a window
    assert any("start" in q for q in server.entry_queries())  # and windows of several pages
    # Only the last page ends the sync; it leaves the next sync at the settled present.
    assert [p.last for p in pages] == [False] * (len(pages) - 1) + [True]
    assert pages[-1].checkpoint["from"] == NOW - SETTLE_SECONDS
    assert pages[-1].checkpoint["next"] is None

    updates = {u.source_id: u for page in pages for u in page.updates}
    image, video = updates["44-e2"], updates["43-e1"]
    assert set(image.signals) == {Signal("md5", md5(2)), Signal("pdq", pdq(2))}
    assert image.labels == ("classification:A1", "member:44")
    assert video.signals == (Signal("video_md5", md5(1)),)
    assert updates["42-e0"].labels == ("classification:B2", "member:42")
    assert not any(u.deleted for u in updates.values())
    notes = " ".join(note for page in pages for note in page.notes)
    assert "sha1" in notes and "pdna" in notes


def test_it_resumes_from_a_checkpoint_given_mid_way_with_exactly_the_rest(server, credentials):
    for n in range(30):
        server.add(entry(n))
    whole = list(make_client(server).fetch({}))
    cut = next(i for i, page in enumerate(whole) if page.checkpoint.get("next"))

    pages = make_client(server).fetch({})
    for _ in range(cut + 1):
        checkpoint = next(pages).checkpoint
    pages.close()  # the sync died here
    del server.requests[:]
    rest = list(make_client(server).fetch(checkpoint))

    assert ids(rest) == ids(whole[cut + 1 :])
    # It carried on from the page it had reached, not from its window's start.
    assert server.entry_queries()[0]["start"] == checkpoint["next"].split("start=")[1].split("&")[0]


def test_it_fetches_a_stale_window_again_from_its_start(server, credentials):
    for n in range(30):
        server.add(entry(n))
    pages = make_client(server).fetch({})
    page = next(p for p in pages if p.checkpoint.get("next"))
    pages.close()
    checkpoint = page.checkpoint
    del server.requests[:]

    # NCMEC's paging links are not kept long: half a day later the window starts over.
    later = checkpoint["next_issued_at"] + PAGING_VALID_SECONDS + 1
    rest = list(make_client(server, now=later).fetch(checkpoint))

    first = server.entry_queries()[0]
    assert "start" not in first
    assert (first["from"], first["to"]) == tuple(
        fake_ncmec._format(checkpoint[k]) for k in ("from", "to")
    )
    assert set(ids([page]) + ids(rest)) == {f"{42 + n % 3}-e{n}" for n in range(30)}


def test_it_fetches_only_what_changed_since_the_last_sync(server, credentials):
    for n in range(10):
        server.add(entry(n))
    checkpoint = list(make_client(server).fetch({}))[-1].checkpoint

    # Since then: one entry added, one reclassified, one deleted at source.
    later = NOW + 2 * HOUR
    server.add(entry(10, timestamp=NOW + HOUR))
    server.change(43, "e4", NOW + HOUR, classification="A2")
    server.delete(42, "e3", NOW + HOUR + 60)
    pages = list(make_client(server, now=later).fetch(checkpoint))

    updates = {u.source_id: u for page in pages for u in page.updates}
    assert set(updates) == {"43-e10", "43-e4", "42-e3"}
    assert updates["43-e4"].labels == ("classification:A2", "member:43")
    assert updates["42-e3"].deleted and updates["42-e3"].signals == ()
    assert not updates["43-e10"].deleted
    assert pages[-1].last and pages[-1].checkpoint["from"] == later - SETTLE_SECONDS

    # And straight after that, nothing.
    again = list(make_client(server, now=later + 1).fetch(pages[-1].checkpoint))
    assert ids(again) == [] and again[-1].last


def test_it_passes_deletions_even_of_members_not_taken(server, credentials):
    server.add(entry(0))
    server.add(entry(1))
    server.add(entry(2))
    server.delete(43, "e1", T0 + 5 * HOUR)

    pages = list(make_client(server, only_member_ids=[42]).fetch({}))

    updates = {u.source_id: u for page in pages for u in page.updates}
    assert set(updates) == {"42-e0", "43-e1"}  # 44-e2 is another member's
    assert updates["43-e1"].deleted
    assert any("only_member_ids" in note for page in pages for note in page.notes)


def test_it_skips_fingerprints_that_are_not_hashes(server, credentials):
    server.add(entry(0, fingerprints={"md5": "not-a-hash", "pdq": pdq(0)}))

    (page,) = list(make_client(server).fetch({}))

    assert page.updates[0].signals == (Signal("pdq", pdq(0)),)
    assert any("not valid" in note and "md5" in note for note in page.notes)


def test_it_says_when_the_credentials_are_refused(server, credentials):
    server.refuse_auth = True
    with pytest.raises(ExchangeAuthFailed):
        list(make_client(server).fetch({}))


def test_it_asks_to_wait_when_rate_limited(server, credentials):
    server.add(entry(0))
    server.script["entries"] = ["429"]
    with pytest.raises(ExchangeRateLimited) as raised:
        list(make_client(server).fetch({}))
    assert raised.value.retry_after == 120


@pytest.mark.parametrize("status", ["500", "503"])
def test_it_reports_a_failing_server_as_unavailable(server, credentials, status):
    server.script["entries"] = [status]
    with pytest.raises(ExchangeUnavailable):
        list(make_client(server).fetch({}))


@pytest.mark.parametrize("behaviour", ["malformed", "bad-entry", "foreign-next"])
def test_it_stops_at_a_malformed_page_after_the_good_ones(server, credentials, behaviour):
    for n in range(8):
        server.add(entry(n))
    server.script["entries"] = ["ok", behaviour]
    pages = make_client(server, window_max_entries=100).fetch({})

    good = next(pages)
    with pytest.raises(ExchangeMalformed):
        next(pages)
    # The sync keeps the good page's checkpoint and resumes from it.
    assert len(good.updates) == 3 and good.checkpoint["next"]


def test_it_needs_its_credentials_and_never_names_them(server, monkeypatch):
    monkeypatch.setenv(f"{ENV}_USER", "someone-secret-username")
    monkeypatch.delenv(f"{ENV}_PASSWORD", raising=False)
    client = make_client(server)

    with pytest.raises(ExchangeAuthFailed) as fetching:
        list(client.fetch({}))
    with pytest.raises(ExchangeAuthFailed) as sending:
        client.send_feedback(FeedbackItem("42-e0", Signal("md5", md5(0)), "agree"))

    for raised in (fetching, sending):
        assert "someone-secret-username" not in str(raised.value)
        assert fake_ncmec.PASSWORD not in str(raised.value)
    assert server.requests == []


def test_it_sends_agreement_on_a_fingerprint(server, credentials):
    server.add(entry(0))
    make_client(server).send_feedback(FeedbackItem("42-e0", Signal("md5", md5(0)), "agree"))

    (feedback,) = server.feedback
    assert (feedback.member_id, feedback.entry_id, feedback.fingerprint_type) == (42, "e0", "MD5")
    assert feedback.vote == "affirmative" and feedback.reason_guids == []
    assert b'xmlns="https://hashsharing.ncmec.org/hashsharing/v2"' in feedback.body


def test_it_sends_disagreement_with_the_only_reason_offered(server, credentials):
    server.add(entry(1))
    signal = Signal("video_md5", md5(1))
    make_client(server).send_feedback(FeedbackItem("43-e1", signal, "disagree"))

    (feedback,) = server.feedback
    assert (feedback.entry_id, feedback.fingerprint_type, feedback.vote) == (
        "e1",
        "MD5",
        "negative",
    )
    assert feedback.reason_guids == ["11111111-aaaa-4bbb-8ccc-000000000001"]


def test_it_sends_disagreement_with_the_reason_its_options_name(server, credentials):
    server.add(entry(0))
    item = FeedbackItem("42-e0", Signal("pdq", pdq(0)), "disagree")

    # NCMEC offers two reasons for PDQ: without a choice nothing is sent, and the error says which.
    with pytest.raises(ExchangeError, match="Hash collision"):
        make_client(server).send_feedback(item)
    assert server.feedback == []

    make_client(server, negative_reason="hash collision").send_feedback(item)
    (feedback,) = server.feedback
    assert feedback.fingerprint_type == "PDQ"
    assert feedback.reason_guids == ["22222222-aaaa-4bbb-8ccc-000000000002"]


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [("429", ExchangeRateLimited), ("503", ExchangeUnavailable)],
)
def test_it_tells_why_feedback_was_not_taken(server, credentials, behaviour, error):
    server.add(entry(0))
    server.script["feedback"] = [behaviour]
    item = FeedbackItem("42-e0", Signal("md5", md5(0)), "agree")
    with pytest.raises(error):
        make_client(server).send_feedback(item)

    server.refuse_auth = True
    with pytest.raises(ExchangeAuthFailed):
        make_client(server).send_feedback(item)
    # An entry NCMEC does not know, and a signal NCMEC takes no feedback on.
    server.refuse_auth = False
    with pytest.raises(ExchangeMalformed):
        make_client(server).send_feedback(FeedbackItem("42-gone", Signal("md5", md5(0)), "agree"))
    with pytest.raises(ExchangeError, match="MD5 and PDQ"):
        make_client(server).send_feedback(FeedbackItem("42-e0", Signal("sha256", pdq(0)), "agree"))
    assert server.feedback == []


@pytest.mark.django_db
def test_it_syncs_a_bank_through_exchange_sync(server, credentials, monkeypatch):
    bank = HashBank.objects.create(
        name="NCMEC industry", slug="ncmec", signal_types=["md5", "pdq", "video_md5"]
    )
    exchange = Exchange.objects.create(
        name="NCMEC",
        slug="ncmec",
        kind=Exchange.Kind.NCMEC,
        bank=bank,
        url=server.url,
        credentials_env=ENV,
        options={"window_max_entries": 8},
    )
    for n in range(12):
        server.add(entry(n))
    monkeypatch.setattr(NcmecClient, "clock", staticmethod(lambda: NOW))

    done = exchange_sync(exchange_id=exchange.pk)

    assert done.status == "succeeded", done.error
    assert done.pages > 2 and (done.added, done.removed) == (18, 0)  # 12 MD5s and 6 PDQs
    live = BankEntry.objects.filter(bank=bank, removed_at__isnull=True)
    image = live.get(signal_type="pdq", value=pdq(2))
    assert (image.exchange, image.source_id) == (exchange, "44-e2")
    assert image.labels == ["classification:A1", "member:44"]
    assert image.first_seen_at and image.last_seen_at
    assert live.get(signal_type="video_md5", value=md5(1)).source_id == "43-e1"
    exchange.refresh_from_db()
    assert (
        exchange.checkpoint["from"] == NOW - SETTLE_SECONDS and exchange.checkpoint["next"] is None
    )

    # Two hours on, NCMEC has withdrawn an image: the next sync asks only for those two hours.
    server.delete(42, "e0", NOW + HOUR)
    del server.requests[:]
    monkeypatch.setattr(NcmecClient, "clock", staticmethod(lambda: NOW + 2 * HOUR))
    again = exchange_sync(exchange_id=exchange.pk)

    assert (again.status, again.added, again.removed) == ("succeeded", 0, 2)
    assert not live.filter(source_id="42-e0").exists()
    assert live.count() == 16
    assert {q["from"] for q in server.entry_queries()} == {fake_ncmec._format(NOW - SETTLE_SECONDS)}
