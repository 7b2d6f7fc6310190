import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.supervision import research
from reports.models import Report
from tests.moderation.transparency_fixtures import DAY, PERIOD, decide, place

PAGE = "/supervise/research-export/"
CSV = "/supervise/research-export.csv"
JSON = "/supervise/research-export.json"

# Identifiable values planted in every case: none may reach the export.
PLANTED = [
    "owner-planted-9f3",
    "handle-planted-9f3",
    "social.example/planted-path",
    "post-planted",
    "reporter-planted@example.org",
    "reporter-account-planted",
    "203.0.113.77",
    "free text planted in the description",
    "notes planted by the reviewer",
    "reviewer-planted",
]


@pytest.fixture
def alike(submit_report, make_user, settings):
    """Four cases alike in every exported column, and one on its own; k = 3."""
    settings.VIGIL_RESEARCH_MIN_GROUP = 3
    reviewer = make_user("reviewer-planted")

    def report(n, category):
        return submit_report(
            category=category,
            source="api",
            reporter_kind="platform_user",
            platform_id=f"post-planted-{n}",
            content_url=f"https://social.example/planted-path/{n}",
            content_type="image",
            owner_id="owner-planted-9f3",
            owner_handle="handle-planted-9f3",
            reporter_email="reporter-planted@example.org",
            reporter_account_id="reporter-account-planted",
            reporter_ip="203.0.113.77",
            description="free text planted in the description",
        )

    cases = []
    for n in range(4):
        case = place(report(n, "harassment").case, DAY + timedelta(minutes=n))
        decision = decide(case, reviewer, "remove", case.created_at + timedelta(hours=2))
        decision.notes = "notes planted by the reviewer"
        decision.save()
        cases.append(case)
    lone = place(report(9, "spam").case, DAY)
    return cases, lone


def rows_of(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
class TestResearchExport:
    def test_it_publishes_groups_of_at_least_k_and_suppresses_the_rest(
        self, client, supervisor, alike
    ):
        client.force_login(supervisor)
        response = client.get(CSV, PERIOD)
        assert response.status_code == 200 and response.streaming
        rows = rows_of(response)
        assert rows == [
            {
                "week": "2026-03-02",
                "category": "harassment",
                "involves_child": "False",
                "content_type": "image",
                "detection_source": "user_report",
                "report_count": "1",
                "time_to_first_action": "1h_to_24h",
                "outcome": "remove",
                "escalated": "False",
                "appeal": "none",
                "cases": "4",
            }
        ]
        assert response["X-Vigil-Suppressed-Cases"] == "1"

    def test_a_group_one_short_of_k_is_suppressed(self, client, supervisor, alike, settings):
        settings.VIGIL_RESEARCH_MIN_GROUP = 5
        client.force_login(supervisor)
        data = client.get(JSON, PERIOD).json()
        assert data["rows"] == []
        assert (data["published_cases"], data["suppressed_cases"]) == (0, 5)
        assert data["min_group"] == 5

    def test_no_personal_data_or_exact_time_reaches_either_format(
        self, client, supervisor, alike, settings
    ):
        # Even with nothing suppressed (k = 1), every case published on its own.
        settings.VIGIL_RESEARCH_MIN_GROUP = 1
        assert Report.objects.filter(description__contains="planted").count() == 5
        client.force_login(supervisor)
        bodies = [
            b"".join(client.get(CSV, PERIOD).streaming_content).decode(),
            client.get(JSON, PERIOD).content.decode(),
        ]
        assert Case.objects.filter(content_item__owner_id="owner-planted-9f3").count() == 5
        for body in bodies:
            for value in PLANTED:
                assert value not in body
            # Times are weeks and buckets: no clock time, and not the day the cases opened.
            assert not re.search(r"\d\d:\d\d", body.split('"rows"')[-1])
            assert "2026-03-03" not in body
        json_rows = client.get(JSON, PERIOD).json()["rows"]
        assert {tuple(sorted(r)) for r in json_rows} == {
            tuple(sorted([*research.COLUMNS, "cases"]))
        }
        assert sum(r["cases"] for r in json_rows) == 5

    def test_every_export_is_audited_with_who_period_rows_and_suppressed(
        self, client, supervisor, alike
    ):
        client.force_login(supervisor)
        rows_of(client.get(CSV, PERIOD))
        client.get(JSON, PERIOD)
        csv_event, json_event = AuditEvent.objects.filter(verb="research.exported").order_by("id")
        assert csv_event.actor == supervisor
        assert csv_event.after == {
            "since": "2026-03-02T00:00:00+00:00",
            "until": "2026-03-09T00:00:00+00:00",
            "format": "csv",
            "rows": 1,
            "cases": 4,
            "suppressed": 1,
            "k": 3,
        }
        assert json_event.after["format"] == "json"

    def test_a_period_widens_to_whole_weeks_so_overlaps_cannot_be_subtracted(
        self, client, supervisor, alike, submit_report
    ):
        # Cases opened this week: the week is under way, so no export holds them yet.
        for _ in range(3):
            submit_report(category="harassment")
        client.force_login(supervisor)
        # Thursday alone stands for its whole week, Monday 2 to Sunday 8 March.
        data = client.get(JSON, {"from": "2026-03-05", "to": "2026-03-05"}).json()
        assert data["period"] == {
            "from": "2026-03-02T00:00:00+00:00",
            "until": "2026-03-09T00:00:00+00:00",
        }
        assert (data["published_cases"], data["suppressed_cases"]) == (4, 1)
        today = timezone.now().date().isoformat()
        current = client.get(JSON, {"from": today, "to": today}).json()
        assert current["published_cases"] == current["suppressed_cases"] == 0
        everything = client.get(JSON, {"from": "2026-01-01", "to": today}).json()
        assert everything["published_cases"] + everything["suppressed_cases"] == 5
        event = AuditEvent.objects.filter(verb="research.exported").order_by("id").first()
        assert event.after["since"] == "2026-03-02T00:00:00+00:00"

    def test_timings_fall_in_their_buckets(self, client, supervisor, submit_report, make_user):
        reviewer = make_user("r")
        for hours, n in ((0.5, 1), (30, 2), (24 * 8, 3)):
            for _ in range(n):
                case = place(submit_report(category="spam").case, DAY)
                decide(case, reviewer, "remove", DAY + timedelta(hours=hours))
        place(submit_report(category="spam").case, DAY)
        export = research.research_export(
            since=DAY - timedelta(days=1), until=DAY + timedelta(days=1), k=1
        )
        got = {row["time_to_first_action"]: row["cases"] for row in export.iter_rows()}
        assert got == {"under_1h": 1, "1d_to_7d": 2, "over_7d": 3, "not_acted": 1}

    def test_the_query_count_is_bounded(
        self, client, supervisor, alike, django_assert_max_num_queries
    ):
        client.force_login(supervisor)
        with django_assert_max_num_queries(12):
            rows_of(client.get(CSV, PERIOD))

    @pytest.mark.parametrize(
        "params", [{"from": "2026-03-08", "to": "2026-03-02"}, {"from": "x"}, {}]
    )
    def test_bad_periods_are_refused_and_not_audited(self, client, supervisor, params):
        client.force_login(supervisor)
        page = client.get(CSV, params)
        assert page.status_code == 400 and b'role="alert"' in page.content
        assert client.get(JSON, params).status_code == 400
        assert not AuditEvent.objects.filter(verb="research.exported").exists()

    def test_the_page_offers_both_formats(self, client, supervisor):
        client.force_login(supervisor)
        body = client.get(PAGE).content.decode()
        assert 'data-testid="research-download-csv"' in body
        assert 'data-testid="research-download-json"' in body
