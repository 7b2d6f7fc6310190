"""The audit browser's CSV export: the current filter, streamed in chunks, itself audited."""

import csv
import io

import pytest

from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
from moderation.supervision import audit_browser as audit_browser


def rows(response) -> list[dict]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def sup_client(client, supervisor):
    client.force_login(supervisor)
    return client


@pytest.mark.django_db
class TestExport:
    def test_it_exports_the_filtered_events_newest_first(
        self, sup_client, supervisor, reviewer, submit_report
    ):
        case = submit_report().case
        audit_record(verb="case.noted", obj=case, case=case, actor=reviewer, after={"n": 1})
        last = audit_record(
            verb="case.noted", obj=case, case=case, actor=reviewer, before={"n": 1}, ip="10.0.0.9"
        )
        audit_record(verb="case.noted", obj=case, case=case, actor=supervisor)
        r = sup_client.get("/audit/export.csv", {"actor": "rita", "verb": "case.noted"})
        assert r.status_code == 200
        assert r["Content-Type"].startswith("text/csv")
        assert "attachment" in r["Content-Disposition"]
        got = rows(r)
        assert [int(row["id"]) for row in got] == [last.pk, last.pk - 1]
        assert got[0] == {
            "id": str(last.pk),
            "created_at": last.created_at.isoformat(),
            "actor_id": str(reviewer.pk),
            "actor_label": "rita",
            "verb": "case.noted",
            "object_type": "moderation.case",
            "object_id": str(case.pk),
            "case_id": str(case.pk),
            "ip": "10.0.0.9",
            "before": '{"n": 1}',
            "after": "",
        }

    def test_every_export_is_audited_with_its_filter(self, sup_client, supervisor):
        r = sup_client.get(
            "/audit/export.csv", {"verb": "case.noted", "from": "2026-01-01T00:00", "before": "9"}
        )
        record = AuditEvent.objects.get(verb="audit.exported")
        assert record.actor == supervisor and record.ip == "127.0.0.1"
        assert record.after == {
            "filter": {"verb": "case.noted", "from": "2026-01-01T00:00:00+00:00"},
            "format": "csv",
        }
        # The file holds what was there when the export began, not its own record.
        assert rows(r) == []

    def test_it_streams_in_chunks_of_bounded_size(
        self, sup_client, supervisor, monkeypatch, django_assert_num_queries
    ):
        monkeypatch.setattr(audit_browser, "EXPORT_CHUNK", 4)
        made = [audit_record(verb="x.y", obj=supervisor).pk for _ in range(10)]
        r = sup_client.get("/audit/export.csv", {"verb": "x.y"})
        # Three queries of at most 4 rows (4, 4, 2), not one of 10.
        with django_assert_num_queries(3):
            got = rows(r)
        assert [int(row["id"]) for row in got] == made[::-1]

    def test_a_cell_a_spreadsheet_would_run_is_defused(self, sup_client, supervisor):
        audit_record(verb="x.y", obj=supervisor, actor_label="=HYPERLINK(1)")
        got = rows(sup_client.get("/audit/export.csv", {"verb": "x.y"}))
        assert got[0]["actor_label"] == "'=HYPERLINK(1)"

    def test_the_page_links_the_export_of_its_filter(self, sup_client, supervisor):
        audit_record(verb="x.y", obj=supervisor)
        r = sup_client.get("/audit/", {"verb": "x.y", "before": "999"})
        assert b"/audit/export.csv?verb=x.y" in r.content
        assert b"export.csv?verb=x.y&amp;before" not in r.content


@pytest.mark.django_db
class TestReadOnly:
    """A supervisor cannot change or remove an event through any URL of the browser."""

    def test_the_browser_answers_only_reads(self, sup_client, supervisor):
        event = audit_record(verb="x.y", obj=supervisor)
        for url in ("/audit/", "/audit/export.csv", f"/audit/actor/{supervisor.pk}/"):
            assert sup_client.post(url, {"verb": "forged"}).status_code == 405
        assert sup_client.delete("/audit/").status_code == 405
        event.refresh_from_db()
        assert event.verb == "x.y"

    def test_no_url_names_an_audit_event_to_edit_or_delete(self):
        from django.urls import get_resolver

        def walk(patterns, prefix=""):
            for p in patterns:
                if hasattr(p, "url_patterns"):
                    yield from walk(p.url_patterns, prefix + str(p.pattern))
                else:
                    yield prefix + str(p.pattern)

        audit = [u for u in walk(get_resolver().url_patterns) if u.startswith("audit")]
        assert audit and not any(w in u for u in audit for w in ("edit", "delete", "change"))


@pytest.mark.django_db
class TestAdminIsReadOnly:
    """The admin shows audit events; even a superuser can neither add, change nor delete one."""

    def test_it_offers_no_add_and_no_bulk_delete(self, client, admin_user, supervisor):
        event = audit_record(verb="x.y", obj=supervisor)
        admin_user.is_superuser = True
        admin_user.save()
        client.force_login(admin_user)
        assert client.get("/admin/moderation/auditevent/add/").status_code == 403
        assert client.post("/admin/moderation/auditevent/add/", {"verb": "x"}).status_code == 403
        changelist = client.get("/admin/moderation/auditevent/")
        assert changelist.status_code == 200
        assert b"delete_selected" not in changelist.content
        r = client.post(
            "/admin/moderation/auditevent/",
            {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
        )
        assert r.status_code in (200, 302)
        assert AuditEvent.objects.filter(pk=event.pk, verb="x.y").exists()

    def test_the_api_has_no_audit_route(self, client):
        paths = client.get("/api/v1/openapi.json").json()["paths"]
        assert not [p for p in paths if "audit" in p]
