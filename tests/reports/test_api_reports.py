import hashlib
import json

import pytest

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from reports.models import Media, Report, ReporterIdentity
from tests.api_helpers import auth, report_payload, token_for
from tests.conftest import png_bytes


def post(client, token, payload, url="/api/v1/reports"):
    return client.post(
        url, data=json.dumps(payload), content_type="application/json", **auth(token)
    )


@pytest.mark.django_db
class TestPostReport:
    def test_it_creates_a_report_and_returns_its_reference_and_case(self, client, make_user):
        token = token_for(make_user)
        r = post(client, token, report_payload())
        assert r.status_code == 201, r.content
        body = r.json()
        report = Report.objects.get()
        assert body == {"reference": report.reference, "case_id": report.case_id}
        assert report.source == "api" and report.category == "csam" and report.involves_child
        assert report.content_item.platform_id == "post-1"
        assert report.case.queue.slug == "child-safety"
        media = Media.objects.get()
        assert media.sha256 == hashlib.sha256(png_bytes()).hexdigest()
        assert media.mime == "image/png" and (media.width, media.height) == (64, 48)

    def test_it_keeps_the_reporter_identity_apart(self, client, make_user):
        token = token_for(make_user)
        post(client, token, report_payload())
        identity = ReporterIdentity.objects.get()
        assert identity.account_id == "reporter-1"
        assert identity.ip == "198.51.100.7"
        assert identity.fingerprint
        # Nothing about the reporter in the audit trail or the case's public data.
        for event in AuditEvent.objects.all():
            assert "reporter-1" not in json.dumps(event.after) and event.ip is None
        case = client.get(f"/api/v1/cases/{Report.objects.get().case_id}", **auth(token)).json()
        assert "reporter-1" not in json.dumps(case) and "198.51.100.7" not in json.dumps(case)

    def test_the_audit_names_the_token(self, client, make_user):
        token = token_for(make_user, username="platform-svc")
        post(client, token, report_payload())
        event = AuditEvent.objects.get(verb="report.received")
        assert event.actor_label == "api token test (platform-svc)"

    def test_it_stores_identical_media_once(self, client, make_user, private_media):
        token = token_for(make_user)
        post(client, token, report_payload())
        post(client, token, report_payload(content={"id": "post-9"}))
        assert Media.objects.count() == 2
        stored = [p for p in private_media.rglob("*") if p.is_file()]
        assert len(stored) == 1
        assert stored[0].name == hashlib.sha256(png_bytes()).hexdigest()

    def test_it_counts_distinct_reporters(self, client, make_user):
        token = token_for(make_user)
        for account in ["a", "b", "a"]:
            post(client, token, report_payload(reporter={"account_id": account}, media=[]))
        case = Case.objects.get()
        assert case.reports_count == 3
        assert case.reporters_count == 2
        assert {"label": "2 reporters", "points": 10} in case.priority_breakdown

    def test_a_reviewer_token_cannot_submit(self, client, make_user):
        token = token_for(make_user, username="rev", role=Role.REVIEWER)
        r = post(client, token, report_payload())
        assert r.status_code == 403
        assert r.json() == {"error": "forbidden", "detail": "This call needs the 'report' scope."}
        assert Report.objects.count() == 0

    def test_a_token_narrowed_to_flags_cannot_submit_reports(self, client, make_user):
        token = token_for(make_user, scopes=["flag"])
        assert post(client, token, report_payload()).status_code == 403

    def test_a_revoked_token_is_refused(self, client, make_user):
        from accounts.models import ApiToken
        from accounts.services import api_token_revoke

        token = token_for(make_user)
        api_token_revoke(token=ApiToken.objects.get())
        r = post(client, token, report_payload())
        assert r.status_code == 401
        assert r["WWW-Authenticate"].startswith("Bearer")

    def test_a_deactivated_users_token_is_refused(self, client, make_user):
        from accounts.models import User

        token = token_for(make_user)
        User.objects.filter(username="platform").update(is_active=False)
        assert post(client, token, report_payload()).status_code == 401

    def test_a_tampered_token_is_refused(self, client, make_user):
        token = token_for(make_user)
        assert post(client, token[:-2] + "xx", report_payload()).status_code == 401

    def test_the_console_session_works_with_csrf(self, make_user):
        from django.test import Client

        user = make_user("ada", Role.ADMIN, queues=[])
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(user)
        r = browser.post(
            "/api/v1/reports", data=json.dumps(report_payload()), content_type="application/json"
        )
        assert r.status_code == 403  # no CSRF token: refused
        browser.get("/report/")  # sets the CSRF cookie
        csrf = browser.cookies["csrftoken"].value
        r = browser.post(
            "/api/v1/reports",
            data=json.dumps(report_payload()),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=csrf,
        )
        assert r.status_code == 201, r.content


@pytest.mark.django_db
class TestTokenCache:
    def test_revoking_a_token_takes_effect_at_once_in_this_process(
        self, client, make_user, django_capture_on_commit_callbacks
    ):
        from accounts.models import ApiToken
        from accounts.services import api_token_revoke

        token = token_for(make_user)
        assert client.get("/api/v1/queues", **auth(token)).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            api_token_revoke(token=ApiToken.objects.get())
        assert client.get("/api/v1/queues", **auth(token)).status_code == 401

    def test_a_deactivated_user_is_refused_once_the_cache_expires(
        self, client, make_user, monkeypatch
    ):
        import time

        from accounts import api
        from accounts.models import User

        token = token_for(make_user)
        assert client.get("/api/v1/queues", **auth(token)).status_code == 200
        User.objects.filter(username="platform").update(is_active=False)
        later = time.monotonic() + api.PRINCIPAL_CACHE_SECONDS + 1
        monkeypatch.setattr(api.time, "monotonic", lambda: later)
        assert client.get("/api/v1/queues", **auth(token)).status_code == 401
