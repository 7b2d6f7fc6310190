"""The console's search: every kind of query, read however it is typed, scoped to what each role
may open, audited, and a fixed number of queries whatever the number of matching rows."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.banks.clusters import forget_media_hashes
from moderation.banks.hashlists import vpdq_value
from moderation.banks.matching import forget_indexes
from moderation.banks.models import HashBank
from moderation.banks.services import bank_import
from moderation.cases.access import user_may_view_case, visible_cases
from moderation.cases.models import Case, Queue
from moderation.decisions.models import Decision
from moderation.escalations.services import escalation_open
from moderation.review.search import parse_query, search
from reports.hashing import hash_bytes
from reports.jobs import hash_media
from reports.media import inspect_image
from reports.models import Media, VideoHash
from reports.vpdq import FrameHash
from tests.testdata import PDQ

BRIDGE = PDQ / "dih/bridge-1-original.jpg"


def flip(hex_value: str, bits: int) -> str:
    """The hash with its first `bits` bits flipped: a near copy at exactly that distance."""
    value = int(hex_value, 16) ^ (((1 << bits) - 1) << (4 * len(hex_value) - bits))
    return f"{value:0{len(hex_value)}x}"


def hashed_report(submit_report, data: bytes = None, name="bridge.jpg", **kwargs):
    data = BRIDGE.read_bytes() if data is None else data
    report = submit_report(images=[inspect_image(data, filename=name)], **kwargs)
    media = report.media.get()
    hash_media(media.pk)
    media.refresh_from_db()
    return report, media


def get(client, q):
    return client.get("/search/", {"q": q})


def group(response, key):
    return next((g for g in response.context["results"].groups if g.key == key), None)


def case_ids(g):
    return [row.case.pk for row in g.rows] if g else []


@pytest.fixture
def general_only(make_user):
    """A reviewer certified for the general queue only: child-safety cases are not theirs."""
    return make_user("gina", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])


@pytest.mark.django_db
class TestReadingTheQuery:
    @pytest.mark.parametrize("text", ["123", "case 123", "Case #123", "#123", " 123 "])
    def test_a_case_id_in_any_form(self, text):
        assert parse_query(text).case_id == 123

    def test_a_named_case_id_is_nothing_else(self):
        assert parse_query("case 123").kinds == ["case"]
        assert parse_query("123").kinds == ["case", "platform_id", "account"]

    @pytest.mark.parametrize(
        "text", ["VR-ABCD-2345", "vr-abcd-2345", "VRABCD2345", "abcd2345", "vr abcd – 2345"]
    )
    def test_a_reference_with_or_without_hyphens_in_any_case(self, text):
        assert parse_query(text).reference == "VR-ABCD-2345"

    def test_a_link_in_its_canonical_form_with_or_without_scheme(self):
        q = parse_query("HTTPS://Social.Example:443/p/1/?utm_source=x#top")
        assert q.kinds == ["url"] and q.url == "https://social.example/p/1"
        assert parse_query("social.example/p/1").url == "https://social.example/p/1"

    def test_a_handle_with_its_at_is_a_handle_only(self):
        q = parse_query("@Alice")
        assert q.kinds == ["account"] and q.handle == "Alice" and not q.owner_id

    def test_hashes_by_length_and_by_prefix(self):
        assert [t for t, _ in parse_query("A" * 64).hashes] == ["sha256", "pdq", "vpdq"]
        assert parse_query("E" * 32).hashes == (("md5", "e" * 32),)
        assert [t for t, _ in parse_query("f" * 16).hashes] == ["phash", "dhash"]
        q = parse_query(f"pdq:{'b' * 64}")
        assert q.kinds == ["hash"] and q.hashes == (("pdq", "b" * 64),)

    @pytest.mark.parametrize("text", ["", "   ", "three words here", "9" * 30 + " x"])
    def test_text_that_is_nothing_searchable(self, text):
        assert parse_query(text).kinds == []


@pytest.mark.django_db
class TestSearchPage:
    def test_an_empty_query_shows_help_and_is_not_audited(self, client, reviewer):
        client.force_login(reviewer)
        for r in (client.get("/search/"), get(client, "  ")):
            assert r.status_code == 200
            assert b'data-testid="search-help"' in r.content
        assert not AuditEvent.objects.filter(verb="search.performed").exists()

    def test_a_case_id_finds_the_case_first_and_focused(self, client, reviewer, submit_report):
        case = submit_report().case
        client.force_login(reviewer)
        r = get(client, f"case {case.pk}")
        assert r.context["results"].exact.case == case
        first = r.content.split(b'data-testid="search-first"')[1].split(b"</section>")[0]
        assert f'href="/cases/{case.pk}/"'.encode() in first and b"autofocus" in first

    def test_a_reference_however_typed(self, client, reviewer, submit_report):
        report = submit_report()
        client.force_login(reviewer)
        typed = report.reference.replace("-", "").lower()
        r = get(client, typed)
        assert case_ids(group(r, "reference")) == [report.case_id]
        assert r.context["results"].exact.case.pk == report.case_id
        assert report.reference.encode() in r.content

    def test_a_url_by_its_canonical_form(self, client, reviewer, submit_report):
        report = submit_report(content_url="https://social.example/p/42?utm_source=share")
        submit_report(content_url="https://social.example/p/43")
        client.force_login(reviewer)
        r = get(client, "HTTPS://SOCIAL.EXAMPLE/p/42/#comments")
        assert case_ids(group(r, "url")) == [report.case_id]
        assert case_ids(group(get(client, "social.example/p/42"), "url")) == [report.case_id]

    def test_a_platform_id(self, client, reviewer, submit_report):
        report = submit_report(platform_id="post-991")
        client.force_login(reviewer)
        r = get(client, "post-991")
        assert case_ids(group(r, "platform_id")) == [report.case_id]
        assert r.context["results"].exact is None

    def test_an_account_by_id_or_handle(self, client, reviewer, submit_report):
        one = submit_report(platform_id="p1", owner_id="acct-7", owner_handle="Alice_Example")
        two = submit_report(platform_id="p2", owner_id="acct-7", owner_handle="alice_example")
        submit_report(platform_id="p3", owner_id="acct-8", owner_handle="bob")
        client.force_login(reviewer)
        for text in ("acct-7", "@alice_example", "ALICE_EXAMPLE"):
            r = get(client, text)
            (account,) = group(r, "account").rows
            assert account.owner_id == "acct-7" and account.cases == 2
            assert sorted(case_ids(group(r, "account_cases"))) == sorted([one.case_id, two.case_id])
        assert b'href="/platform-accounts/acct-7/"' in r.content

    def test_a_sha256_and_an_md5_find_the_media_exactly(self, client, reviewer, submit_report):
        report, media = hashed_report(submit_report)
        client.force_login(reviewer)
        for value, signal in ((media.sha256.upper(), "sha256"), (media.md5, "md5")):
            (row,) = group(get(client, value), "media").rows
            assert (row.case.pk, row.media_id, row.distance, row.signal) == (
                report.case_id,
                media.pk,
                0,
                signal,
            )

    def test_a_pdq_finds_media_within_the_threshold_with_the_distance(
        self, client, reviewer, submit_report
    ):
        report, media = hashed_report(submit_report)
        client.force_login(reviewer)
        (row,) = group(get(client, flip(media.pdq, 7)), "media").rows
        assert (row.case.pk, row.distance, row.signal) == (report.case_id, 7, "pdq")
        assert group(get(client, flip(media.pdq, 40)), "media") is None

    def test_a_pdq_finds_a_video_by_its_frames(self, client, reviewer, submit_report):
        report, media = hashed_report(submit_report)
        frame = hash_bytes(BRIDGE.read_bytes())["pdq"]
        # A video of two frames, as the hashing job leaves it (kind, vPDQ frames, hashed).
        Media.objects.filter(pk=media.pk).update(kind="video", pdq="", pdq_quality=None)
        VideoHash.objects.create(
            media_id=media.pk,
            seconds_per_hash=1.0,
            frames_decoded=2,
            frames=f"0,100,{flip(frame, 60)},0.000\n1,100,{frame},1.000\n",
        )
        forget_media_hashes()  # the lists were read when it was hashed as an image
        client.force_login(reviewer)
        (row,) = group(get(client, flip(frame, 3)), "media").rows
        assert (row.media_id, row.distance, row.signal) == (media.pk, 3, "vpdq")
        assert b"a video frame's PDQ" in get(client, flip(frame, 3)).content

    def test_bank_entries_exact_and_within_threshold(self, client, reviewer, supervisor):
        bank = HashBank.objects.create(
            name="Known", slug="known", signal_types=["pdq", "md5", "vpdq"]
        )
        pdq = hash_bytes(BRIDGE.read_bytes())["pdq"]
        frames = [FrameHash(0, 0.0, 100, flip(pdq, 50)), FrameHash(1, 1.0, 100, flip(pdq, 2))]
        signal = '["' + '","'.join(f"{f.pdq},100,{f.timestamp}" for f in frames) + '"]'
        bank_import(bank=bank, text=f"pdq {pdq}\nmd5 {'e' * 32}\nvpdq {signal}")
        forget_indexes()
        client.force_login(supervisor)
        rows = group(get(client, flip(pdq, 5)), "bank").rows
        assert [(r.entry.bank.name, r.signal_type, r.distance) for r in rows] == [
            ("Known", "vpdq", 3),
            ("Known", "pdq", 5),
        ]
        # Below supervisor, each bank's closest entry only (as the API's lookup answers): the
        # distances to every entry would map a bank out.
        client.force_login(reviewer)
        rows = group(get(client, flip(pdq, 5)), "bank").rows
        assert [(r.entry.bank.name, r.signal_type, r.distance) for r in rows] == [
            ("Known", "vpdq", 3)
        ]
        (row,) = group(get(client, "E" * 32), "bank").rows
        assert (row.signal_type, row.distance) == ("md5", 0)
        (row,) = group(get(client, vpdq_value(frames)), "bank").rows
        assert row.entry.signal_type == "vpdq" and row.distance == 0
        assert b"Known" in get(client, "E" * 32).content

    def test_nothing_found_says_so(self, client, reviewer):
        client.force_login(reviewer)
        r = get(client, "no-such-thing")
        assert r.context["results"].groups == []
        assert b"Nothing you may see matches it" in r.content

    def test_hash_searches_share_the_hash_lookups_limit(self, client, reviewer, settings):
        settings.HASH_LOOKUPS_PER_MINUTE = 2
        client.force_login(reviewer)
        assert [get(client, "e" * 32).status_code for _ in range(3)] == [200, 200, 429]
        assert b"Too many hash searches" in get(client, "e" * 32).content
        assert get(client, "case 1").status_code == 200  # not a hash: not limited
        assert AuditEvent.objects.filter(verb="search.performed").count() == 3

    @pytest.mark.parametrize("q", ["²", "1²", "case ²", "٣"])
    def test_digits_that_are_not_ascii_are_no_error(self, client, reviewer, q):
        client.force_login(reviewer)
        assert get(client, q).status_code == 200

    @pytest.mark.parametrize("q", ["a\x00b", "x" * 2001])
    def test_bad_input_is_a_clear_error_not_a_search(self, client, reviewer, q):
        client.force_login(reviewer)
        r = get(client, q)
        assert r.status_code == 200 and b'data-testid="search-errors"' in r.content
        assert not AuditEvent.objects.filter(verb="search.performed").exists()

    def test_results_are_capped_with_the_count_shown(self, client, reviewer, submit_report):
        for i in range(53):
            submit_report(platform_id=f"p{i}", owner_id="acct-9")
        client.force_login(reviewer)
        r = get(client, "acct-9")
        cases = group(r, "account_cases")
        assert cases.count == 53 and len(cases.rows) == 50 and cases.more == 3
        assert b"Showing the first 50 of 53" in r.content


@pytest.mark.django_db
class TestScope:
    def test_a_reviewer_finds_only_cases_they_may_open(
        self, client, general_only, supervisor, submit_report
    ):
        child = submit_report(
            category="csam", involves_child=True, platform_id="c1", owner_id="acct-1"
        )
        general = submit_report(category="spam", platform_id="g1", owner_id="acct-1")
        client.force_login(general_only)
        for text in (str(child.case_id), child.reference, "c1", child.content_item.url):
            assert get(client, text).context["results"].groups == [], text
        r = get(client, "acct-1")
        assert case_ids(group(r, "account_cases")) == [general.case_id]
        assert group(r, "account").rows[0].cases == 1
        client.force_login(supervisor)
        r = get(client, "acct-1")
        assert sorted(case_ids(group(r, "account_cases"))) == sorted(
            [child.case_id, general.case_id]
        )

    def test_media_in_a_case_they_may_not_open_is_not_shown(
        self, client, general_only, supervisor, submit_report
    ):
        _, media = hashed_report(submit_report, category="csam", involves_child=True)
        client.force_login(general_only)
        assert get(client, media.sha256).context["results"].groups == []
        client.force_login(supervisor)
        assert group(get(client, media.sha256), "media").count == 1

    def test_the_holder_and_the_last_decider_see_a_case_outside_their_queues(
        self, make_user, general_only, submit_report
    ):
        held = submit_report(category="csam", involves_child=True).case
        decided = submit_report(category="csam", involves_child=True).case
        Case.objects.filter(pk=held.pk).update(
            assignee=general_only, lease_expires_at=timezone.now()
        )
        Decision.objects.create(case=decided, reviewer=general_only, action="remove", policy="x")
        other = submit_report(category="csam", involves_child=True).case
        # The rule as a query agrees with the rule the case page applies, case by case.
        for case in Case.objects.prefetch_related("decisions"):
            assert (case.pk in set(visible_cases(general_only).values_list("pk", flat=True))) == (
                user_may_view_case(general_only, case)
            )
        assert case_ids(search(general_only, str(held.pk)).groups[0]) == [held.pk]
        assert case_ids(search(general_only, str(decided.pk)).groups[0]) == [decided.pk]
        assert search(general_only, str(other.pk)).groups == []

    def test_escalations_as_each_role_may_see_them(self, client, make_user, submit_report):
        reviewer = make_user("rev", Role.REVIEWER)
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        case = submit_report(category="spam", owner_id="acct-5").case
        escalation = escalation_open(case=case, reason="test", user=make_user("other"))
        client.force_login(reviewer)
        r = get(client, str(case.pk))
        assert case_ids(group(r, "case")) == [case.pk] and group(r, "escalation") is None
        client.force_login(senior)
        for text in (str(case.pk), "acct-5"):
            assert group(get(client, text), "escalation").rows == [escalation]

    def test_the_platform_account_may_not_search(self, client, make_user):
        client.force_login(make_user("plat", Role.PLATFORM, queues=[]))
        assert get(client, "1").status_code == 403


@pytest.mark.django_db
class TestAudit:
    def test_every_search_is_audited_with_what_it_found(self, client, reviewer, submit_report):
        report = submit_report(platform_id="post-1")
        client.force_login(reviewer)
        get(client, report.reference)
        get(client, "post-1")
        first, second = AuditEvent.objects.filter(verb="search.performed").order_by("pk")
        assert first.actor == reviewer and first.object_id == str(reviewer.pk)
        assert first.object_type == "accounts.user"
        assert first.after == {
            "query": report.reference,
            "kinds": ["reference", "platform_id", "account"],
            "counts": {"reference": 1},
        }
        assert second.after == {
            "query": "post-1",
            "kinds": ["platform_id", "account"],
            "counts": {"platform_id": 1},
        }


def count_queries(client, q) -> int:
    # Each run starts as a fresh process would: the same index building and loading each time.
    forget_indexes()
    forget_media_hashes()
    # ...and finds nothing cached by an earlier page (the navigation's inbox counts).
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        assert get(client, q).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
class TestQueryCounts:
    @pytest.mark.parametrize("kind", ["case", "url", "platform_id", "account", "sha256", "pdq"])
    def test_the_same_queries_for_few_and_many_matches(
        self, client, make_user, submit_report, kind
    ):
        reviewer = make_user("rev", Role.REVIEWER)
        client.force_login(reviewer)
        bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq", "sha256"])
        image = BRIDGE.read_bytes()
        pdq = hash_bytes(image)["pdq"]
        bank_import(bank=bank, text=f"pdq {pdq}\npdq {flip(pdq, 4)}")
        item_case = submit_report(
            platform_id="item-1", owner_id="acct-1", content_url="https://social.example/p/1"
        ).case
        numbers = iter(range(100))

        def add(n):
            for _ in range(n):
                # The same image on another item of the account's, in a case escalated...
                report, media = hashed_report(
                    submit_report, image, platform_id=f"other-{next(numbers)}", owner_id="acct-1"
                )
                escalation_open(case=report.case, reason="test", user=reviewer)
                # ...and one more (decided) case about the first item.
                Case.objects.create(
                    content_item=item_case.content_item,
                    queue=item_case.queue,
                    category="spam",
                    status="decided",
                    decided_at=timezone.now(),
                )
            return media

        media = add(2)
        queries = {
            "case": str(item_case.pk),
            "url": "https://social.example/p/1",
            "platform_id": "item-1",
            "account": "acct-1",
            "sha256": media.sha256,
            "pdq": media.pdq,
        }
        few = count_queries(client, queries[kind])
        add(8)
        many = count_queries(client, queries[kind])
        assert few == many
        r = get(client, queries[kind])
        if kind == "sha256":
            assert group(r, "media").count == 10 and group(r, "escalation").count == 1
        elif kind == "pdq":
            # Two entries within the threshold, one bank: a reviewer sees its closest.
            assert group(r, "media").count == 10 and group(r, "bank").count == 1
        elif kind in ("url", "platform_id"):
            assert group(r, kind).count == 11
        elif kind == "account":
            assert group(r, "account_cases").count == 21
