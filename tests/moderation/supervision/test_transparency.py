import csv
import io
import json
from datetime import date

import pytest

from moderation.audit.models import AuditEvent
from moderation.supervision.charts import horizontal_bars
from moderation.supervision.transparency_views import period_text
from tests.moderation.transparency_fixtures import PERIOD

PAGE = "/supervise/transparency/"
CSV = "/supervise/transparency.csv"
JSON = "/supervise/transparency.json"


@pytest.mark.django_db
class TestFigures:
    def test_it_counts_a_known_week_exactly(self, client, supervisor, known_week):
        client.force_login(supervisor)
        response = client.get(JSON, PERIOD)
        assert response.status_code == 200
        data = response.json()
        signals = data["signals_received"]
        # c1 at the period's first second counts; "late" at the first second after it does not.
        assert signals["user_reports"] == {"total": 5, "by_source": {"form": 4, "api": 1}}
        assert signals["user_reports_by_reporter_kind"]["platform_user"] == 1
        assert signals["automated_flags"] == 1
        assert signals["hash_matches"] == 1
        assert signals["by_category"]["harassment"] == {
            "user_reports": 3,
            "automated_flags": 0,
            "hash_matches": 0,
        }
        assert signals["by_category"]["spam"]["hash_matches"] == 1
        assert signals["by_category"]["violent_extremism"]["automated_flags"] == 1
        assert data["cases_opened"] == {
            "total": 6,
            "by_detection": {"user_report": 4, "automated_flag": 1, "hash_match": 1},
        }
        assert data["automated_detection_share"] == round(2 / 6, 4)
        decisions = data["decisions_by_action"]
        assert decisions["remove"] == 2 and decisions["no_violation"] == 2
        assert decisions["suspend"] == 0
        actions = data["enforcement_actions"]
        assert actions["by_kind"]["remove_content"] == 3
        assert actions["by_kind"]["suspend_account"] == 1
        assert (actions["requested_by_reviewers"], actions["automated"]) == (2, 2)
        # First actions: c7 after 30 min (bank), c1 2 h, c2 4 h, c4 10 h: median 3 h.
        assert data["time_to_action"] == {"cases_first_acted_on": 4, "median_seconds": 10800.0}
        escalations = data["escalations"]
        assert (escalations["submitted"], escalations["cases_submitted"]) == (1, 1)
        assert escalations["opened_by_status"]["submitted"] == 1
        assert escalations["opened_by_status"]["draft"] == 0
        assert data["appeals"] == {
            "lodged": 1,
            "decided": {"upheld": 0, "overturned": 1, "stricter": 0, "milder": 0},
        }
        assert data["actions_reversed"] == {"total": 1, "by_source": {"appeal": 1}}

    def test_the_next_day_holds_only_what_falls_in_it(self, client, supervisor, known_week):
        client.force_login(supervisor)
        data = client.get(JSON, {"from": "2026-03-09", "to": "2026-03-09"}).json()
        assert data["signals_received"]["user_reports"]["total"] == 1
        assert data["cases_opened"]["total"] == 1
        assert data["decisions_by_action"]["remove"] == 1
        # "late" was acted on after 1 h.
        assert data["time_to_action"]["median_seconds"] == 3600.0
        assert data["escalations"]["submitted"] == 0

    def test_an_empty_period_has_no_share_and_no_median(self, client, supervisor):
        client.force_login(supervisor)
        data = client.get(JSON, PERIOD).json()
        assert data["automated_detection_share"] is None
        assert data["time_to_action"] == {"cases_first_acted_on": 0, "median_seconds": None}

    def test_the_page_draws_captioned_charts_and_links_both_downloads(
        self, client, supervisor, known_week, django_assert_max_num_queries
    ):
        client.force_login(supervisor)
        with django_assert_max_num_queries(30):
            response = client.get(PAGE, PERIOD)
        assert response.status_code == 200
        body = response.content.decode()
        period = "from 2 March 2026 to 8 March 2026 (UTC, both days included)"
        # Five charts, each a figure whose caption says what it shows and over which period.
        assert body.count('<figure class="hbars"') == 5
        assert body.count(f"</strong>, {period}.") == 5
        assert (
            '<figcaption id="chart-sources-caption"><strong>Signals received, by source</strong>'
            in body
        )
        # The figures themselves, as a table with headings: a label and its value per row.
        sources = body.split('data-testid="chart-sources"')[1].split("</figure>")[0]
        assert '<th scope="col">Source</th><th scope="col">Signals</th>' in sources
        assert '<th scope="row">User reports (public form)</th>' in sources
        assert '<span class="value">4</span>' in sources and "Total 7." in sources
        # Statuses in words, not codes.
        assert "now awaiting approval" in body and "awaiting_approval" not in body
        # Drawn on the server: nothing fetched from elsewhere.
        assert 'src="http' not in body and 'href="http' not in body
        assert 'data-testid="transparency-download-csv"' in body
        assert f"{CSV}?from=2026-03-02&amp;to=2026-03-08" in body
        assert 'data-testid="transparency-download-json"' in body
        assert '<label for="id_from">From</label>' in body
        assert 'data-testid="median-time-to-action">10800 s' in body
        # Viewing the page is not a download.
        assert not AuditEvent.objects.filter(verb="transparency.exported").exists()

    def test_the_query_count_does_not_grow_with_the_data(
        self, client, supervisor, known_week, submit_report, django_assert_max_num_queries
    ):
        for _ in range(5):
            submit_report(category="spam")
        client.force_login(supervisor)
        with django_assert_max_num_queries(30):
            assert client.get(JSON, PERIOD).status_code == 200


@pytest.mark.django_db
class TestDownloads:
    def test_the_csv_holds_the_same_figures_and_is_audited(self, client, supervisor, known_week):
        client.force_login(supervisor)
        response = client.get(CSV, PERIOD)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "transparency-2026-03-02-2026-03-08.csv" in response["Content-Disposition"]
        body = b"".join(response.streaming_content).decode()
        header, *rows = list(csv.reader(io.StringIO(body)))
        assert header == ["section", "key", "value"]
        figures = {(s, k): v for s, k, v in rows}
        assert figures[("signals_received.user_reports.by_source", "form")] == "4"
        assert figures[("time_to_action", "median_seconds")] == "10800.0"
        assert figures[("escalations", "submitted")] == "1"
        event = AuditEvent.objects.get(verb="transparency.exported")
        assert event.actor == supervisor
        assert event.after["format"] == "csv"
        assert event.after["since"].startswith("2026-03-02")
        assert event.after["until"].startswith("2026-03-09")

    def test_the_json_download_is_audited(self, client, supervisor):
        client.force_login(supervisor)
        response = client.get(JSON, PERIOD)
        assert "transparency-2026-03-02-2026-03-08.json" in response["Content-Disposition"]
        json.loads(response.content)
        assert AuditEvent.objects.get(verb="transparency.exported").after["format"] == "json"


@pytest.mark.django_db
class TestBadInput:
    @pytest.mark.parametrize(
        "params",
        [
            {"from": "2026-03-08", "to": "2026-03-02"},
            {"from": "yesterday", "to": "2026-03-02"},
            {"from": "2026-02-30", "to": "2026-03-02"},
            {"to": "2026-03-02"},
            {"from": "99999-01-01", "to": "2026-03-02"},
        ],
    )
    def test_it_refuses_a_bad_period_with_errors_not_a_500(self, client, supervisor, params):
        client.force_login(supervisor)
        page = client.get(PAGE, params)
        assert page.status_code == 400 and b'role="alert"' in page.content
        assert client.get(CSV, params).status_code == 400
        response = client.get(JSON, params)
        assert response.status_code == 400 and response.json()["errors"]
        assert not AuditEvent.objects.filter(verb="transparency.exported").exists()

    def test_a_period_in_the_future_is_empty_not_an_error(self, client, supervisor):
        client.force_login(supervisor)
        response = client.get(JSON, {"from": "9999-12-30", "to": "9999-12-31"})
        assert response.status_code == 200
        assert response.json()["cases_opened"]["total"] == 0

    def test_reviewers_are_refused(self, client, reviewer):
        client.force_login(reviewer)
        for url in (PAGE, CSV, JSON):
            assert client.get(url, PERIOD).status_code == 403
        assert not AuditEvent.objects.filter(verb="transparency.exported").exists()


class TestHorizontalBars:
    def chart(self, rows):
        return horizontal_bars(
            rows,
            title="Signals received, by category",
            period="on 9 March 2026 (UTC)",
            label_heading="Category",
            value_heading="Signals",
            testid="chart-x",
        )

    def test_each_label_is_a_row_heading_with_its_bar_and_value(self):
        html = self.chart([("Image of me, taken when I was under 18", 1), ("Spam <or> scam", 4)])
        assert (
            '<figcaption id="chart-x-caption"><strong>Signals received, by category</strong>'
            in html
        )
        assert "on 9 March 2026 (UTC). <span" in html and "Total 5." in html
        # The label is text in its own cell: it wraps, it is never cut off.
        assert '<th scope="row">Image of me, taken when I was under 18</th>' in html
        assert '<th scope="row">Spam &lt;or&gt; scam</th>' in html
        assert 'style="--share: 0.25"' in html and 'style="--share: 1.0"' in html
        assert '<table aria-labelledby="chart-x-caption">' in html

    def test_an_empty_chart_says_so(self):
        html = self.chart([])
        assert "Nothing to show." in html and "Total 0." in html
        assert 'style="--share: 0"' in self.chart([("None yet", 0)])

    def test_the_period_reads_in_words(self):
        assert period_text(date(2026, 3, 2), date(2026, 3, 8)) == (
            "from 2 March 2026 to 8 March 2026 (UTC, both days included)"
        )
        assert period_text(date(2026, 3, 9), date(2026, 3, 9)) == "on 9 March 2026 (UTC)"
