"""GET /api/v1/escalations/{id}/packet: the packet zip for supervisors' tokens, audited; JSON
errors otherwise (403 not a supervisor, 404 unknown, 409 no packet)."""

import hashlib

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.services import api_token_create
from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from tests.api_helpers import auth, token_for
from tests.moderation.custody_helpers import make_escalation


@pytest.fixture
def escalation(make_user, submit_report, png_upload):
    report = submit_report(category="harassment", images=[png_upload()])
    return make_escalation(make_user, [report])


def url(escalation_id):
    return f"/api/v1/escalations/{escalation_id}/packet"


@pytest.mark.django_db
class TestPacketApi:
    def test_it_streams_the_packet_to_a_supervisors_token_and_audits_it(
        self, client, make_user, escalation
    ):
        token = token_for(make_user, "sup-api", Role.SUPERVISOR)
        response = client.get(url(escalation.pk), REMOTE_ADDR="192.0.2.44", **auth(token))
        assert response.status_code == 200
        assert response.streaming
        body = b"".join(response.streaming_content)
        assert hashlib.sha256(body).hexdigest() == escalation.packet_sha256
        assert len(body) == escalation.packet_size
        assert body[:2] == b"PK"
        assert response["Content-Type"] == "application/zip"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Packet-SHA256"] == escalation.packet_sha256
        assert "no-store" in response["Cache-Control"]
        event = AuditEvent.objects.get(verb="escalation.packet_downloaded")
        assert event.actor.username == "sup-api"
        assert event.actor_label == "api token test (sup-api)"
        assert event.ip == "192.0.2.44"
        assert event.after == {
            "packet_sha256": escalation.packet_sha256,
            "packet_size": escalation.packet_size,
            "status": "ready",
            "via": "api",
        }

    @pytest.mark.parametrize("role", [Role.SENIOR_REVIEWER, Role.REVIEWER, Role.PLATFORM])
    def test_it_refuses_tokens_of_others(self, client, make_user, escalation, role):
        token = token_for(make_user, "other", role)
        response = client.get(url(escalation.pk), **auth(token))
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
        assert not AuditEvent.objects.filter(verb="escalation.packet_downloaded").exists()

    def test_it_refuses_a_token_without_the_read_scope(self, client, make_user, escalation):
        token = token_for(make_user, "sup-flag", Role.ADMIN, scopes=["flag"])
        response = client.get(url(escalation.pk), **auth(token))
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"

    def test_it_404s_an_unknown_escalation(self, client, make_user):
        token = token_for(make_user, "sup-api", Role.SUPERVISOR)
        response = client.get(url(999999), **auth(token))
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": "No escalation 999999."}

    @pytest.mark.parametrize(
        "change, code",
        [
            ({"status": Escalation.Status.ASSEMBLING}, "no_packet"),
            ({"evidence_deleted_at": timezone.now()}, "evidence_deleted"),
            ({"packet_size": 1}, "packet_damaged"),
        ],
    )
    def test_it_409s_when_there_is_no_packet_to_give(
        self, client, make_user, escalation, change, code
    ):
        Escalation.objects.filter(pk=escalation.pk).update(**change)
        token = token_for(make_user, "sup-api", Role.SUPERVISOR)
        response = client.get(url(escalation.pk), **auth(token))
        assert response.status_code == 409
        body = response.json()
        assert body["error"] == code and body["detail"]
        assert not AuditEvent.objects.filter(verb="escalation.packet_downloaded").exists()

    def test_it_needs_authentication(self, client, escalation):
        assert client.get(url(escalation.pk)).status_code == 401

    def test_it_is_in_the_openapi_document(self, client):
        doc = client.get("/api/v1/openapi.json").json()
        operation = doc["paths"]["/api/v1/escalations/{escalation_id}/packet"]["get"]
        assert "application/zip" in operation["responses"]["200"]["content"]


@pytest.mark.django_db
def test_a_submitted_packet_needs_the_preserved_evidence_permission(client, make_user, escalation):
    from django.contrib.auth.models import Permission

    from tests.moderation.custody_helpers import submit

    user = make_user("auditor", Role.SENIOR_REVIEWER)
    user.user_permissions.add(Permission.objects.get(codename="supervise"))
    token = token_for(make_user, "sup-api", Role.SUPERVISOR)
    auditor_token = api_token_create(user=user, name="t")[1]
    submit(escalation, report_id=32)
    assert client.get(url(escalation.pk), **auth(auditor_token)).status_code == 403
    assert client.get(url(escalation.pk), **auth(token)).status_code == 200
