import csv
import io
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.dsa import schema as dsa_schema
from moderation.dsa import views as dsa_views

PAGE = "/supervise/statements-of-reasons/"
CSV = "/supervise/statements-of-reasons.csv"


def today() -> str:
    return timezone.now().date().isoformat()


def download(client, **params):
    response = client.get(CSV, {"from": today(), "to": today(), **params})
    assert response.status_code == 200, response.content
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return response, list(csv.reader(io.StringIO(body)))


@pytest.mark.django_db
class TestCsvExport:
    def test_it_streams_one_row_per_statement_in_the_databases_columns(
        self, client, supervisor, dsa_decide, dsa_bank_acts
    ):
        decision = dsa_decide("escalate", "child-safety/sexual-exploitation", "csam")
        dsa_bank_acts()
        client.force_login(supervisor)
        response, rows = download(client)
        assert response["Content-Type"].startswith("text/csv")
        assert f"statements-of-reasons-{today()}-{today()}.csv" in response["Content-Disposition"]
        header, *data = rows
        assert header == dsa_schema.FIELDS
        assert len(data) == 2
        first = dict(zip(header, data[0], strict=True))
        assert first["puid"].endswith(f"vigil-decision-{decision.pk}")
        assert json.loads(first["decision_visibility"]) == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
        assert first["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
        assert json.loads(first["territorial_scope"]) == settings.DSA_EU_MEMBER_STATES
        assert first["content_type"] == '["CONTENT_TYPE_IMAGE"]'
        assert first["incompatible_content_ground"] == "" and first["source_identity"] == ""
        second = dict(zip(header, data[1], strict=True))
        assert second["automated_decision"] == "AUTOMATED_DECISION_FULLY"

    def test_the_export_is_audited_with_its_period_and_row_count(
        self, client, supervisor, dsa_decide
    ):
        dsa_decide()
        dsa_decide()
        client.force_login(supervisor)
        _, rows = download(client)
        event = AuditEvent.objects.get(verb="dsa.exported")
        assert event.actor == supervisor
        assert event.after["rows"] == len(rows) - 1 == 2
        assert event.after["since"].startswith(today())
        assert event.after["until"] <= timezone.now().isoformat()

    def test_the_period_is_whole_days_and_leaves_out_other_days(
        self, client, supervisor, dsa_decide
    ):
        dsa_decide()
        client.force_login(supervisor)
        yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
        _, rows = download(client, **{"from": yesterday, "to": yesterday})
        assert rows == [dsa_schema.FIELDS]
        assert AuditEvent.objects.get(verb="dsa.exported").after["rows"] == 0

    def test_it_reads_in_chunks_with_queries_independent_of_rows(
        self, client, supervisor, dsa_decide, monkeypatch
    ):
        monkeypatch.setattr(dsa_views, "CHUNK", 2)
        client.force_login(supervisor)
        counts = []
        for _ in range(2):
            for _ in range(2):
                dsa_decide()
            with CaptureQueriesContext(connection) as queries:
                _, rows = download(client)
            counts.append((len(rows) - 1, len(queries)))
        (two, q_two), (four, q_four) = counts
        assert (two, four) == (2, 4)
        # Two more rows: one more chunk of three queries, never a query per row.
        assert q_four - q_two == 3

    def test_text_stays_on_one_line(self):
        assert dsa_schema.csv_value("decision_facts", "a\nb\r\nc") == "a b  c"
        assert dsa_schema.csv_value("content_type", ["A", "B"]) == '["A","B"]'
        assert dsa_schema.csv_value("decision_account", None) == ""


@pytest.mark.django_db
class TestBadPeriods:
    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"from": "2026-11-02"},
            {"from": "yesterday", "to": "2026-11-01"},
            {"from": "2026-11-02", "to": "2026-11-01"},
            {"from": "2026-02-30", "to": "2026-03-01"},
        ],
    )
    def test_a_bad_period_shows_the_form_with_errors_and_exports_nothing(
        self, client, supervisor, params
    ):
        client.force_login(supervisor)
        response = client.get(CSV, params)
        assert response.status_code == 400
        assert b'role="alert"' in response.content
        assert not AuditEvent.objects.filter(verb="dsa.exported").exists()


@pytest.mark.django_db
def test_a_period_ending_on_the_last_date_there_is_exports_up_to_now(
    client, supervisor, dsa_decide
):
    dsa_decide()
    client.force_login(supervisor)
    _, rows = download(client, to="9999-12-31")
    assert len(rows) == 2
    assert AuditEvent.objects.get(verb="dsa.exported").after["rows"] == 1


@pytest.mark.django_db
def test_the_page_offers_the_export_and_the_nav_links_it(client, supervisor):
    client.force_login(supervisor)
    response = client.get(PAGE)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-testid="dsa-export"' in content
    assert f'action="{CSV}"' in content
    assert f'href="{PAGE}"' in content  # the nav
