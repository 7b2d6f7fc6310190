"""The audit browser: each filter, keyset pages, timelines, bad input and bounded queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
from moderation.supervision.audit_browser import PAGE_SIZE, change_rows
from tests.moderation.audit_helpers import audit_guard_off


def restamp_hourly(start: datetime) -> datetime:
    """Stamp every event an hour after the one before it, from `start` (as ids and times go
    together in a real log); returns `start`, the time of an event of id 0."""
    with audit_guard_off():  # events are append-only: as only a test may
        for pk in AuditEvent.objects.values_list("id", flat=True):
            AuditEvent.objects.filter(pk=pk).update(created_at=start + timedelta(hours=pk))
    return start


def ids(response) -> list[int]:
    return [e.pk for e in response.context["page"].events]


@pytest.fixture
def events(make_user, submit_report):
    """Two reviewers acting on two cases, plus the events intake wrote."""
    rita, rob = make_user("rita"), make_user("rob")
    one, two = submit_report().case, submit_report().case
    made = {
        "rita_one": audit_record(verb="case.claimed", obj=one, case=one, actor=rita),
        "rob_two": audit_record(verb="case.claimed", obj=two, case=two, actor=rob),
        "rita_note": audit_record(
            verb="case.noted", obj=one, case=one, actor=rita, before={"a": 1}, after={"a": 2}
        ),
    }
    return {"rita": rita, "rob": rob, "one": one, "two": two, **made}


@pytest.fixture
def sup_client(client, supervisor):
    client.force_login(supervisor)
    return client


@pytest.mark.django_db
class TestFilters:
    def test_it_lists_everything_newest_first(self, sup_client, events):
        r = sup_client.get("/audit/")
        assert r.status_code == 200
        assert ids(r) == list(AuditEvent.objects.order_by("-id").values_list("id", flat=True))

    def test_it_filters_by_actor_username(self, sup_client, events):
        r = sup_client.get("/audit/", {"actor": "rita"})
        assert ids(r) == [events["rita_note"].pk, events["rita_one"].pk]

    def test_it_filters_by_verb(self, sup_client, events):
        r = sup_client.get("/audit/", {"verb": "case.claimed"})
        assert ids(r) == [events["rob_two"].pk, events["rita_one"].pk]

    def test_it_filters_by_case(self, sup_client, events):
        r = sup_client.get("/audit/", {"case": events["two"].pk})
        assert events["rob_two"].pk in ids(r)
        assert all(e.case_id == events["two"].pk for e in r.context["page"].events)

    def test_it_filters_by_object_type_and_id(self, sup_client, events):
        r = sup_client.get(
            "/audit/", {"object_type": "moderation.case", "object_id": str(events["one"].pk)}
        )
        assert set(ids(r)) >= {events["rita_one"].pk, events["rita_note"].pk}
        assert {(e.object_type, e.object_id) for e in r.context["page"].events} == {
            ("moderation.case", str(events["one"].pk))
        }

    def test_it_filters_by_time_range(self, sup_client, events):
        start = restamp_hourly(datetime(2020, 5, 1, tzinfo=UTC))
        target = events["rob_two"]
        at = start + timedelta(hours=target.pk)
        r = sup_client.get(
            "/audit/", {"from": f"{at:%Y-%m-%dT%H:%M}", "to": f"{at:%Y-%m-%dT}23:59"}
        )
        assert ids(r)[-1] == target.pk
        assert all(e.pk >= target.pk for e in r.context["page"].events)
        r = sup_client.get("/audit/", {"to": f"{at:%Y-%m-%dT%H:%M}"})
        assert ids(r)[0] == target.pk - 1
        r = sup_client.get(
            "/audit/", {"from": f"{at:%Y-%m-%dT%H:%M}", "to": f"{at:%Y-%m-%dT%H}:01"}
        )
        assert ids(r) == [target.pk]

    def test_an_event_stamped_a_little_out_of_order_is_still_found(self, sup_client, events):
        # Two machines' clocks a minute apart: the later id carries the earlier time.
        start = restamp_hourly(datetime(2020, 5, 1, tzinfo=UTC))
        late = events["rita_note"]
        at = start + timedelta(hours=late.pk - 1) - timedelta(minutes=1)
        with audit_guard_off():
            AuditEvent.objects.filter(pk=late.pk).update(created_at=at)
        window = {
            "from": f"{at:%Y-%m-%dT%H:%M}",
            "to": f"{at + timedelta(minutes=1):%Y-%m-%dT%H:%M}",
        }
        assert ids(sup_client.get("/audit/", window)) == [late.pk]

    @pytest.mark.parametrize("edge", ["0001-01-01T00:00", "9999-12-31T23:59"])
    def test_the_ends_of_the_calendar_are_a_time_like_any_other(self, sup_client, events, edge):
        assert sup_client.get("/audit/", {"from": edge}).status_code == 200
        assert sup_client.get("/audit/", {"to": edge}).status_code == 200

    def test_filters_combine(self, sup_client, events):
        r = sup_client.get("/audit/", {"actor": "rita", "verb": "case.claimed"})
        assert ids(r) == [events["rita_one"].pk]

    def test_it_shows_a_change_field_by_field(self, sup_client, events):
        r = sup_client.get("/audit/", {"verb": "case.noted"})
        event = r.context["page"].events[0]
        assert event.changes == [("a", "1", "2", True)]
        # Summed up in one line, the fields opening beneath it.
        assert event.summary == "a: 1 → 2"
        assert b'<details class="diff">' in r.content
        assert b"<summary>a: 1 \xe2\x86\x92 2</summary>" in r.content
        assert b'class="field changed"' in r.content


class TestChangeRows:
    def test_it_marks_only_the_fields_that_moved(self):
        rows = change_rows({"a": 1, "b": "x"}, {"a": 1, "b": "y", "c": None})
        assert rows == [
            ("a", "1", "1", False),
            ("b", '"x"', '"y"', True),
            ("c", "", "null", True),
        ]

    def test_it_shows_a_record_that_is_not_an_object_whole(self):
        assert change_rows([1], None) == [("", "[1]", "", True)]
        assert change_rows(None, None) == []


@pytest.mark.django_db
class TestBadInput:
    @pytest.mark.parametrize(
        "params, message",
        [
            ({"case": "abc"}, b"Enter a whole number"),
            ({"case": "\u00b2"}, b"Enter a whole number"),
            ({"case": str(2**70)}, b"less than or equal"),
            ({"actor": "nobody"}, "No user is named “nobody”".encode()),
            ({"verb": "case.\x00decided"}, b"Null characters are not allowed"),
            ({"object_id": "7"}, b"Choose the object&#x27;s type"),
            ({"object_type": "no.such"}, b"Select a valid choice"),
            ({"from": "yesterday"}, b"Enter a valid date/time"),
            ({"from": "2026-01-02T00:00", "to": "2026-01-01T00:00"}, b"ends before it starts"),
            ({"before": "-1"}, b"greater than or equal"),
            ({"before": "5", "after": "2"}, b"not both"),
        ],
    )
    def test_it_explains_a_filter_it_cannot_use(self, sup_client, events, params, message):
        r = sup_client.get("/audit/", params)
        assert r.status_code == 400
        assert b'data-testid="filter-errors"' in r.content
        assert message in r.content
        assert r.context["page"] is None

    def test_a_bad_export_filter_is_the_page_with_the_error_and_nothing_recorded(
        self, sup_client, events
    ):
        r = sup_client.get("/audit/export.csv", {"case": "x"})
        assert r.status_code == 400 and b"filter-errors" in r.content
        assert not AuditEvent.objects.filter(verb="audit.exported").exists()

    def test_a_timeline_of_nothing_is_a_404(self, sup_client, events):
        assert sup_client.get("/audit/case/999999/").status_code == 404
        assert sup_client.get("/audit/actor/999999/").status_code == 404


@pytest.mark.django_db
class TestKeysetPages:
    @pytest.fixture
    def many(self, supervisor):
        return [
            audit_record(verb="test.event", obj=supervisor, actor=supervisor).pk
            for _ in range(PAGE_SIZE * 2 + 5)
        ]

    def test_it_walks_older_and_back_newer(self, sup_client, many):
        newest_first = many[::-1]
        first = sup_client.get("/audit/", {"verb": "test.event"})
        assert ids(first) == newest_first[:PAGE_SIZE]
        page = first.context["page"]
        assert page.newer is None and page.older == newest_first[PAGE_SIZE - 1]
        second = sup_client.get("/audit/", {"verb": "test.event", "before": page.older})
        assert ids(second) == newest_first[PAGE_SIZE : 2 * PAGE_SIZE]
        assert f"after={newest_first[PAGE_SIZE]}".encode() in second.content
        third = sup_client.get(
            "/audit/", {"verb": "test.event", "before": second.context["page"].older}
        )
        assert ids(third) == newest_first[2 * PAGE_SIZE :]
        assert third.context["page"].older is None
        back = sup_client.get(
            "/audit/", {"verb": "test.event", "after": third.context["page"].newer}
        )
        assert ids(back) == ids(second)
        assert back.context["page"].newer == newest_first[PAGE_SIZE]

    def test_a_page_stays_the_same_when_events_arrive(self, sup_client, many, supervisor):
        first = sup_client.get("/audit/", {"verb": "test.event"})
        older = first.context["page"].older
        before = ids(sup_client.get("/audit/", {"verb": "test.event", "before": older}))
        for _ in range(7):
            audit_record(verb="test.event", obj=supervisor, actor=supervisor)
        after = ids(sup_client.get("/audit/", {"verb": "test.event", "before": older}))
        assert after == before

    def test_the_query_count_does_not_grow_with_the_events(
        self, sup_client, supervisor, django_assert_max_num_queries
    ):
        few = [
            audit_record(verb=f"test.event{i}", obj=supervisor, actor=supervisor).pk
            for i in range(3)
        ]
        with CaptureQueriesContext(connection) as baseline:
            sup_client.get("/audit/", {"before": few[-1] + 1, "actor": "sam"})
        baseline = len(baseline)  # read now: every request clears the connection's log
        many = [
            audit_record(verb=f"test.{i % 40}", obj=supervisor, actor=supervisor).pk
            for i in range(PAGE_SIZE * 2 + 5)
        ]
        with django_assert_max_num_queries(baseline):
            r = sup_client.get("/audit/", {"before": many[-1], "actor": "sam"})
        assert len(ids(r)) == PAGE_SIZE


@pytest.mark.django_db
class TestTimelines:
    def test_a_case_timeline_holds_all_its_events(self, sup_client, events):
        case = events["one"]
        r = sup_client.get(reverse("audit_case", args=[case.pk]))
        assert r.status_code == 200
        expected = AuditEvent.objects.filter(case=case).order_by("-id")
        assert ids(r) == list(expected.values_list("id", flat=True))
        assert f"Case {case.pk}: timeline".encode() in r.content

    def test_a_reviewer_timeline_holds_what_they_did(self, sup_client, events):
        r = sup_client.get(reverse("audit_actor", args=[events["rob"].pk]))
        assert ids(r) == [events["rob_two"].pk]

    def test_a_timeline_pages_on_its_own_url(self, sup_client, supervisor, make_user):
        for _ in range(PAGE_SIZE + 1):
            audit_record(verb="test.event", obj=supervisor, actor=supervisor)
        r = sup_client.get(reverse("audit_actor", args=[supervisor.pk]))
        older = r.context["page"].older
        assert f'href="?before={older}"'.encode() in r.content

    def test_the_case_page_links_its_timeline_and_who_saw_each_file_for_supervisors(
        self, client, supervisor, reviewer, submit_report, png_upload
    ):
        report = submit_report(images=[png_upload()])
        media = report.media.get()
        client.force_login(supervisor)
        page = client.get(reverse("case_detail", args=[report.case_id])).content.decode()
        assert reverse("audit_case", args=[report.case_id]) in page
        who = f"?verb=media.viewed&amp;object_type=reports.media&amp;object_id={media.pk}"
        assert who in page
        client.force_login(reviewer)
        page = client.get(reverse("case_detail", args=[report.case_id])).content.decode()
        assert "who-saw" not in page and "case-timeline" not in page

    def test_who_saw_this_file_lists_its_views(self, client, supervisor, submit_report, png_upload):
        report = submit_report(images=[png_upload()])
        media = report.media.get()
        client.force_login(supervisor)
        client.get(reverse("case_media", args=[report.case_id, media.pk]))
        r = client.get(
            "/audit/",
            {"verb": "media.viewed", "object_type": "reports.media", "object_id": media.pk},
        )
        assert [(e.actor_label, e.object_id) for e in r.context["page"].events] == [
            ("sam", str(media.pk))
        ]

    def test_the_team_page_links_each_reviewer_timeline(self, client, supervisor, reviewer):
        client.force_login(supervisor)
        page = client.get(reverse("team")).content.decode()
        assert reverse("audit_actor", args=[reviewer.pk]) in page

    def test_escalation_packet_files_link_who_saw_them(
        self, client, escalate, make_user, png_upload
    ):
        from moderation.escalations.models import EscalationFile

        escalation, _ = escalate(images=[png_upload()])
        case = escalation.cases.get()
        media = case.content_item.media.get()
        type(escalation).objects.filter(pk=escalation.pk).update(packet_sha256="ab" * 32)
        EscalationFile.objects.create(
            escalation=escalation, media=media, case=case, name="files/0001-x.png", sha256="x"
        )
        client.force_login(make_user("boss", Role.SUPERVISOR))
        page = client.get(reverse("escalation_detail", args=[escalation.pk])).content.decode()
        assert f"object_type=reports.media&amp;object_id={media.pk}" in page


@pytest.mark.django_db
def test_the_time_filter_takes_the_form_inputs_as_utc(sup_client, events):
    start = restamp_hourly(
        datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=30)
    )
    target = events["rita_one"]
    at = start + timedelta(hours=target.pk)
    r = sup_client.get("/audit/", {"from": at.strftime("%Y-%m-%dT%H:%M"), "to": "2000-01-01"})
    assert r.status_code == 400
    r = sup_client.get(
        "/audit/",
        {
            "from": at.strftime("%Y-%m-%dT%H:%M"),
            "to": (at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert ids(r) == [target.pk]
