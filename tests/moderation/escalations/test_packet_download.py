"""Downloading a packet from the escalation page: supervisors only, streamed, every download
audited with who, from where and the packet's SHA-256."""

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.http import FileResponse

from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from tests.moderation.custody_helpers import make_escalation


@pytest.fixture
def escalation(make_user, submit_report, png_upload):
    report = submit_report(category="harassment", images=[png_upload()])
    return make_escalation(make_user, [report])


def url(escalation):
    return f"/escalations/{escalation.pk}/packet/"


@pytest.mark.django_db
class TestPacketDownload:
    def test_it_streams_the_packet_as_an_attachment_and_audits_it(
        self, client, supervisor, escalation
    ):
        client.force_login(supervisor)
        response = client.get(url(escalation), REMOTE_ADDR="203.0.113.9")
        assert response.status_code == 200
        # Streamed from storage in blocks, never read into memory first.
        assert isinstance(response, FileResponse) and response.streaming
        body = b"".join(response.streaming_content)
        with default_storage.open(escalation.packet.name, "rb") as f:
            assert body == f.read()
        assert hashlib.sha256(body).hexdigest() == escalation.packet_sha256
        assert response["Content-Type"] == "application/zip"
        assert response["Content-Disposition"] == (
            f'attachment; filename="vigil-escalation-{escalation.pk}-'
            f'{escalation.packet_sha256[:12]}.zip"'
        )
        assert "no-store" in response["Cache-Control"]
        assert response["X-Packet-SHA256"] == escalation.packet_sha256
        event = AuditEvent.objects.get(verb="escalation.packet_downloaded")
        assert event.actor == supervisor
        assert event.ip == "203.0.113.9"
        assert event.object_id == str(escalation.pk)
        assert event.after["packet_sha256"] == escalation.packet_sha256
        assert event.after["via"] == "page"

    def test_it_audits_every_download(self, client, supervisor, escalation):
        client.force_login(supervisor)
        for _ in range(3):
            b"".join(client.get(url(escalation)).streaming_content)
        assert AuditEvent.objects.filter(verb="escalation.packet_downloaded").count() == 3

    def test_it_refuses_a_reviewer_and_records_nothing(self, client, reviewer, escalation):
        client.force_login(reviewer)
        assert client.get(url(escalation)).status_code == 403
        assert not AuditEvent.objects.filter(verb="escalation.packet_downloaded").exists()

    def test_it_404s_an_unknown_escalation(self, client, supervisor):
        client.force_login(supervisor)
        assert client.get("/escalations/999999/packet/").status_code == 404

    def test_it_says_why_when_there_is_no_packet_yet(self, client, supervisor, escalation):
        Escalation.objects.filter(pk=escalation.pk).update(status=Escalation.Status.ASSEMBLING)
        client.force_login(supervisor)
        response = client.get(url(escalation), follow=False)
        assert response.status_code == 302
        assert response.url == f"/escalations/{escalation.pk}/"
        assert not AuditEvent.objects.filter(verb="escalation.packet_downloaded").exists()

    def test_it_refuses_a_packet_whose_stored_size_differs(self, client, supervisor, escalation):
        # Truncated in storage: never hand out bytes that are not the recorded packet.
        path = default_storage.path(escalation.packet.name)
        with open(path, "r+b") as f:
            f.truncate(escalation.packet_size - 10)
        client.force_login(supervisor)
        response = client.get(url(escalation))
        assert response.status_code == 302
        assert not AuditEvent.objects.filter(verb="escalation.packet_downloaded").exists()

    def test_it_refuses_once_the_evidence_is_deleted(self, client, supervisor, escalation):
        from django.utils import timezone

        Escalation.objects.filter(pk=escalation.pk).update(evidence_deleted_at=timezone.now())
        client.force_login(supervisor)
        assert client.get(url(escalation)).status_code == 302
        assert not AuditEvent.objects.filter(verb="escalation.packet_downloaded").exists()


@pytest.mark.django_db
def test_once_submitted_the_packet_needs_the_preserved_evidence_permission(
    client, make_user, escalation
):
    from django.contrib.auth.models import Permission

    from accounts.roles import Role
    from tests.moderation.custody_helpers import submit

    # A custom grant: supervision without access to preserved evidence.
    user = make_user("auditor", Role.SENIOR_REVIEWER)
    user.user_permissions.add(Permission.objects.get(codename="supervise"))
    client.force_login(user)
    assert client.get(url(escalation)).status_code == 200
    submit(escalation, report_id=31)
    assert client.get(url(escalation)).status_code == 403
    assert AuditEvent.objects.filter(verb="escalation.packet_downloaded").count() == 1
