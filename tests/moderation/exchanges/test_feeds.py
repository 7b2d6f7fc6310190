"""Published banks as feeds for partner platforms (GET /api/v1/feeds/<bank>, docs/feeds.md): who
may read them, incremental pages by checkpoint that miss nothing and repeat nothing, the whole
list as CSV, the "confirmed by review" bank without any personal data, and what a read costs."""

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from moderation.audit.models import AuditEvent
from moderation.banks.confirmed import CONFIRMED_BANK_SLUG, decision_withdraw_confirmation
from moderation.banks.models import BankEntry, HashBank, IndexSnapshot
from moderation.banks.services import bank_entry_remove
from moderation.banks.snapshot import bank_write_gate, index_snapshot_take
from moderation.exchanges import feed_api, feeds
from moderation.exchanges.feed_tokens import feed_token_create, feed_token_revoke
from moderation.exchanges.models import Exchange
from tests import test_api_fuzz as fuzz
from tests.api_helpers import token_for
from tests.moderation.exchanges.feed_helpers import (
    Partner,
    add,
    add_video,
    lines,
    live,
    md5,
    published_bank,
    read,
    token_for_banks,
)
from tests.moderation.signals import known_image, report_image

FRAMES = [f"{'ab' * 32},90,0.000", f"{'cd' * 32},80,1.000"]


@pytest.fixture
def no_slack(monkeypatch):
    """Removals reach the feed at once, as if every writer's clock agreed with the reader's."""
    monkeypatch.setattr(feeds, "SLACK", timedelta(0))


@pytest.mark.django_db
class TestWhoMayRead:
    def test_it_refuses_a_missing_bad_or_revoked_token_with_401(self, client):
        bank = published_bank()
        add(bank, 1)
        row, token = feed_token_create(name="partner", banks=[bank])
        assert read(client, token).status_code == 200
        for bad in [None, "nonsense", "vglf_" + "x" * 43, token + "x"]:
            r = read(client, bad)
            assert r.status_code == 401, bad
            assert r.json()["error"] == "unauthorized"
        feed_token_revoke(token=row)
        assert read(client, token).status_code == 401

    def test_it_refuses_an_api_token_and_the_console_session(self, client, make_user, admin_user):
        bank = published_bank()
        add(bank, 1)
        api_token = token_for(make_user)
        assert read(client, api_token).status_code == 401
        client.force_login(admin_user)
        assert read(client, None).status_code == 401

    def test_it_opens_nothing_else_with_a_feed_token(self, client):
        token = token_for_banks(published_bank())
        for url in ["/api/v1/banks", "/api/v1/queues"]:
            r = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
            assert r.status_code == 401, url

    def test_it_answers_404_alike_for_another_bank_an_unpublished_one_and_none(self, client):
        mine, theirs = published_bank("mine"), published_bank("theirs")
        hidden = published_bank("hidden")
        token = token_for_banks(mine, hidden)
        HashBank.objects.filter(pk=hidden.pk).update(is_published=False)
        answers = [read(client, token, slug) for slug in ["theirs", "hidden", "nothing", "a\x00"]]
        assert {r.status_code for r in answers} == {404}
        assert len({r.content for r in answers}) == 1
        assert read(client, token, "mine").status_code == 200
        assert theirs.pk

    def test_it_rate_limits_a_token(self, client, monkeypatch):
        monkeypatch.setattr(feed_api, "FEED_REQUESTS_PER_MINUTE", 2)
        token = token_for_banks(published_bank())
        assert [read(client, token).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db
class TestIncremental:
    def test_it_hands_out_additions_then_removals_then_more_additions_exactly_once(
        self, client, no_slack
    ):
        bank = published_bank()
        other = published_bank("other")
        first = add(bank, 1, 2, 3, 4, 5)
        add(other, 99)  # another bank's entries never show
        partner = Partner(client, token_for_banks(bank), limit=2)

        pages = partner.poll()
        assert [len(p) for p in pages] == [2, 2, 1]
        ids = [line["id"] for page in pages for line in page]
        assert ids == [str(e.pk) for e in sorted(first, key=lambda e: e.pk)]
        assert partner.held == live(bank)
        assert partner.poll() == [[]]  # nothing new: an empty page, no more

        for entry in first[:3]:
            bank_entry_remove(entry=entry)
        pages = partner.poll()
        assert [len(p) for p in pages] == [2, 1]
        assert all(line["deleted"] for page in pages for line in page)
        assert partner.held == live(bank)

        later = add(bank, 6, 7, 8)
        bank_entry_remove(entry=later[0])  # added and removed between two polls: never sent
        bank_entry_remove(entry=first[3])
        pages = partner.poll()
        changes = [line for page in pages for line in page]
        assert [(c["id"], c["deleted"]) for c in changes] == [
            (str(first[3].pk), True),
            (str(later[1].pk), False),
            (str(later[2].pk), False),
        ]
        assert partner.held == live(bank)

    def test_it_lets_a_new_partner_start_from_the_current_list(self, client, no_slack):
        bank = published_bank()
        entries = add(bank, 1, 2, 3)
        bank_entry_remove(entry=entries[0])
        partner = Partner(client, token_for_banks(bank))
        (page,) = partner.poll()
        assert not any(line["deleted"] for line in page)  # no removals of what it never had
        assert partner.held == live(bank)

    def test_it_holds_a_removal_back_for_the_writers_clocks_then_hands_it_out(
        self, client, monkeypatch
    ):
        bank = published_bank()
        (entry,) = add(bank, 1)
        partner = Partner(client, token_for_banks(bank))
        partner.poll()
        bank_entry_remove(entry=entry)
        assert partner.poll() == [[]]
        later = timezone.now() + feeds.SLACK + timedelta(seconds=1)
        monkeypatch.setattr(feeds, "_now", lambda: later)
        ((removal,),) = partner.poll()
        assert removal["id"] == str(entry.pk) and removal["deleted"]

    def test_it_writes_each_kind_of_line(self, client, no_slack):
        bank = published_bank()
        (entry,) = add(bank, 1, labels=("csam", "A1"))
        add_video(bank, FRAMES)
        partner = Partner(client, token_for_banks(bank))
        ((digest, video),) = partner.poll()
        assert digest == {
            "id": str(entry.pk),
            "signal_type": "md5",
            "signal": md5(1),
            "labels": ["csam", "A1"],
            "added_at": entry.added_at.isoformat().replace("+00:00", "Z"),
            "deleted": False,
        }
        assert video["signal_type"] == "vpdq" and json.loads(video["signal"]) == FRAMES
        bank_entry_remove(entry=BankEntry.objects.get(bank=bank, signal_type="vpdq"))
        ((removal,),) = partner.poll()
        assert set(removal) == {"id", "signal_type", "signal", "deleted", "removed_at"}
        assert removal["signal"] == video["signal"] and removal["deleted"] is True

    @pytest.mark.parametrize(
        "checkpoint, status, error",
        [
            ("garbage", 400, "bad_checkpoint"),
            ("WzEsMSwwLDBd:1vHxYz:abcdefabcdef", 400, "bad_checkpoint"),
            ("x" * 1001, 422, "invalid_request"),
        ],
    )
    def test_it_answers_a_bad_checkpoint_in_json(self, client, checkpoint, status, error):
        token = token_for_banks(published_bank())
        r = read(client, token, checkpoint=checkpoint)
        assert r.status_code == status and r.json()["error"] == error

    def test_it_refuses_a_tampered_checkpoint_or_another_banks(self, client):
        bank, other = published_bank(), published_bank("other")
        token = token_for_banks(bank, other)
        good = read(client, token)["X-Vigil-Checkpoint"]
        for wrong, slug in [(good[:-2] + "xx", "shared"), (good, "other")]:
            r = read(client, token, slug, checkpoint=wrong)
            assert r.status_code == 400
            assert r.json()["error"] == "bad_checkpoint"

    def test_it_keeps_the_queries_per_page_fixed(self, client, no_slack):
        def first_page(slug, count):
            bank = published_bank(slug)
            add(bank, *range(count * 1000, count * 1000 + count))
            token = token_for_banks(bank, name=slug)
            with CaptureQueriesContext(connection) as queries:
                assert len(lines(read(client, token, slug))) == count
            return len(queries)

        assert first_page("small", 3) == first_page("large", 60)

        def next_page(slug, count):
            bank = HashBank.objects.get(slug=slug)
            token = token_for_banks(bank, name=f"{slug}-2")
            checkpoint = read(client, token, slug, limit=1)["X-Vigil-Checkpoint"]
            with CaptureQueriesContext(connection) as queries:
                r = read(client, token, slug, checkpoint=checkpoint, limit=count)
                assert len(lines(r)) == count
            return len(queries)

        assert next_page("small", 2) == next_page("large", 50)


@pytest.mark.django_db
class TestWholeList:
    def test_it_serves_the_current_list_as_csv_and_where_changes_follow_on(self, client, no_slack):
        bank = published_bank()
        entries = add(bank, 1, 2, 3, labels=("csam",))
        bank_entry_remove(entry=entries[1])
        token = token_for_banks(bank)
        r = read(client, token, format="csv")
        assert r.status_code == 200 and r["Content-Type"] == "text/csv; charset=utf-8"
        assert r["X-Vigil-More"] == "false"
        rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
        assert rows == [
            ["signal_type", "signal_str", "labels"],
            ["md5", md5(1), "csam"],
            ["md5", md5(3), "csam"],
        ]
        (later,) = add(bank, 4)
        partner = Partner(client, token)
        partner.checkpoint = r["X-Vigil-Checkpoint"]
        partner.held = live(bank)
        partner.held.pop(str(later.pk))
        ((addition,),) = partner.poll()
        assert addition["id"] == str(later.pk)

    def test_it_takes_no_checkpoint_with_csv(self, client):
        bank = published_bank()
        token = token_for_banks(bank)
        checkpoint = read(client, token)["X-Vigil-Checkpoint"]
        r = read(client, token, format="csv", checkpoint=checkpoint)
        assert r.status_code == 400 and r.json()["error"] == "bad_checkpoint"
        assert read(client, token, format="xml").status_code == 422


CSAM_FINDING = {
    "action": "escalate",
    "policy": "child-safety/sexual-exploitation",
    "intent": "malicious",
    "classification": "A2",
}


@pytest.mark.django_db
def test_it_publishes_the_confirmed_by_review_bank_without_personal_data(
    client, submit_report, reviewer, run_jobs, no_slack
):
    from moderation.cases.services import case_claim_next
    from moderation.review.services import case_decide

    report = report_image(
        submit_report,
        known_image(),
        category="csam",
        platform_id="post-417",
        owner_id="acct-4242",
    )
    with run_jobs():
        case = case_claim_next(user=reviewer)
        decision = case_decide(case_id=case.pk, user=reviewer, **CSAM_FINDING)
    bank = HashBank.objects.get(slug=CONFIRMED_BANK_SLUG)
    bank.is_published = True
    bank.save()
    # A label an import might carry that names a case: never handed out.
    BankEntry.objects.filter(bank=bank).update(labels=["A2", f"case:{case.pk}", "reviewer-rita"])
    media = report.media.get()
    token = token_for_banks(bank)
    partner = Partner(client, token, CONFIRMED_BANK_SLUG)
    (page,) = partner.poll()
    assert {(line["signal_type"], line["signal"]) for line in page} == {
        ("pdq", media.pdq),
        ("md5", media.md5),
        ("sha256", media.sha256),
    }
    for line in page:
        assert set(line) == {"id", "signal_type", "signal", "labels", "added_at", "deleted"}
        assert line["labels"] == ["A2"]
    csv_body = b"".join(
        read(client, token, CONFIRMED_BANK_SLUG, format="csv").streaming_content
    ).decode()
    for body in (json.dumps(page), csv_body):
        for private in ["rita", "post-417", "acct-4242", "case", "decision", "reviewer"]:
            assert private not in body

    # Overturned: the partner is told to take the hashes out.
    decision_withdraw_confirmation(decision=decision, by=reviewer, reason="appeal upheld")
    (page,) = partner.poll()
    assert len(page) == 3 and all(line["deleted"] for line in page)
    assert partner.held == {}


@pytest.mark.django_db
def test_it_records_reads_and_audits_only_those_that_hand_out_hashes(client, no_slack):
    bank = published_bank()
    add(bank, 1, 2)
    row, token = feed_token_create(name="partner", banks=[bank])
    assert row.last_used_at is None
    partner = Partner(client, token)
    partner.poll()
    row.refresh_from_db()
    assert row.last_used_at is not None
    (event,) = AuditEvent.objects.filter(verb="feed.read")
    assert event.object_id == str(row.pk) and event.actor_label == "feed token partner"
    assert event.after["added"] == 2 and event.after["removed"] == 0
    assert event.after["bank"] == "shared" and event.after["format"] == "jsonl"
    partner.poll()  # nothing new: not audited
    assert AuditEvent.objects.filter(verb="feed.read").count() == 1
    read(client, token, format="csv")  # a whole list is always a handing out
    assert AuditEvent.objects.filter(verb="feed.read").count() == 2


def test_it_keeps_only_labels_that_are_categories():
    assert feeds.safe_labels(
        [
            "A2",
            "csam",
            "iwf:category-a",
            "case:12",
            "decision-4",
            "reviewer rita",
            "Reviewer_rita",
            "someone@example.com",
            "https://x.example/a",
            "acct_1234567",
            "ip:10.0.0.1",
            "A2",
            7,
            "x" * 41,
            "",
        ]
    ) == ["A2", "csam", "iwf:category-a"]
    assert feeds.safe_labels("A2") == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes one at a time")
@pytest.mark.django_db(transaction=True)
def test_it_does_not_miss_an_entry_committed_after_a_higher_one(client, no_slack):
    """An entry's id is given when it is written, not when it commits: here entry X is written
    first, entry Y after it (a higher id) and committed first. A reader that took the highest
    committed id as its mark would hand out Y, step past X, and never hand X out."""
    bank = published_bank()
    (first,) = add(bank, 1, signal_type="pdq")
    index_snapshot_take(signal_type="pdq")  # an exact mark to fall back on while writers write
    token = token_for_banks(bank)
    partner = Partner(client, token)
    written, release = threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                bank_write_gate()
                BankEntry.objects.create(bank=bank, signal_type="md5", value=md5(2))
                written.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert written.wait(30)
        add(bank, 3)  # Y: committed while X is not, with a higher id
        (page,) = partner.poll()  # the gate is held: the snapshot's mark, entry 1 only
        assert [line["signal"] for line in page] == [first.value]
        IndexSnapshot.objects.all().delete()
        busy = read(client, token)  # a new partner, nothing to fall back on: come back later
        assert busy.status_code == 503 and busy["Retry-After"] == "5"
        assert busy.json()["error"] == "feed_busy"
    finally:
        release.set()
        thread.join(30)
    (page,) = partner.poll()
    assert sorted(line["signal"] for line in page) == [md5(2), md5(3)]
    assert partner.held == live(bank) and len(partner.held) == 3


# The API fuzzer (tests/test_api_fuzz.py) calls the feed with API tokens, which it refuses: here a
# partner's own token calls it with the fuzzer's requests, valid and invalid, against a published
# bank with changes in it. Never a 500; statuses, content types and 4xx bodies as documented.
feed_schema = fuzz.schema.include(path_regex="^/api/v1/feeds/")


@pytest.fixture
def partner_world(no_slack):
    bank = published_bank()
    entries = add(bank, 1, 2, 3, labels=("csam",))
    add_video(bank, FRAMES)
    bank_entry_remove(entry=entries[0])
    return token_for_banks(bank)


@pytest.mark.django_db(transaction=True)
@feed_schema.parametrize()
@hypothesis_settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_it_conforms_to_its_openapi_document_for_a_partner(case, partner_world, monkeypatch):
    monkeypatch.setattr(feed_api, "FEED_REQUESTS_PER_MINUTE", 1_000_000)
    params = case.path_parameters or {}
    if isinstance(params.get("slug"), str) and len(params["slug"]) % 2 == 0:
        params["slug"] = "shared"
    case.call_and_validate(headers={"Authorization": f"Bearer {partner_world}"}, checks=fuzz.CHECKS)


@pytest.mark.django_db
def test_it_never_passes_on_what_a_programme_listed(client):
    """NCMEC's, StopNCII's and ThreatExchange's lists are shared under terms that forbid passing
    them on: a published bank's entries from an exchange stay out of its feed, both formats."""
    bank = published_bank()
    own, theirs = add(bank, 1, 2)
    exchange = Exchange.objects.create(
        name="NCMEC", slug="ncmec", kind="ncmec", bank=bank, url="https://example.invalid/"
    )
    BankEntry.objects.filter(pk=theirs.pk).update(exchange=exchange, source_id="m-1")
    token = token_for_banks(bank)
    assert [line["id"] for line in lines(read(client, token))] == [str(own.pk)]
    listed = read(client, token, format="csv").getvalue().decode()
    assert md5(1) in listed and md5(2) not in listed
