"""The packet on the escalation page, and a supervisor's retry of a failed assembly."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from moderation.escalations.packet import INVALID_REASON, escalation_assemble
from tests.moderation.packet_helpers import approved

__all__ = ["approved"]


def failed_missing_file(escalation) -> Escalation:
    media = escalation.cases.get().content_item.media.order_by("pk").first()
    default_storage.delete(media.file.name)
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    assert escalation.status == "failed"
    return escalation


@pytest.mark.django_db
class TestPacketOnThePage:
    def test_a_ready_packet_shows_its_hash_size_and_manifest(self, client, approved, supervisor):
        escalation = approved()
        escalation_assemble(escalation_id=escalation.pk)
        escalation.refresh_from_db()
        client.force_login(supervisor)
        page = client.get(reverse("escalation_detail", args=[escalation.pk])).content.decode()
        assert escalation.packet_sha256 in page
        assert f"{escalation.packet_size} bytes" in page
        for name, sha in escalation.manifest.items():
            assert name in page and sha in page
        assert 'data-testid="retry-assembly"' not in page

    def test_a_failed_assembly_shows_the_reason_and_each_error(self, client, approved, supervisor):
        escalation = approved()
        Escalation.objects.filter(pk=escalation.pk).update(
            status="failed",
            failure_reason=INVALID_REASON,
            failure_details=["report.xml: line 1: bad <thing>", "fileDetails/0001.xml: missing"],
        )
        client.force_login(supervisor)
        page = client.get(reverse("escalation_detail", args=[escalation.pk])).content.decode()
        assert INVALID_REASON in page
        assert "report.xml: line 1: bad &lt;thing&gt;" in page
        assert "fileDetails/0001.xml: missing" in page
        assert 'data-testid="retry-assembly"' in page

    def test_only_supervisors_see_the_retry_button(self, client, approved, make_user):
        from accounts.roles import Role

        escalation = failed_missing_file(approved())
        client.force_login(make_user("senna", Role.SENIOR_REVIEWER))
        page = client.get(reverse("escalation_detail", args=[escalation.pk])).content.decode()
        assert escalation.failure_reason in page
        assert 'data-testid="retry-assembly"' not in page


@pytest.mark.django_db
class TestRetryView:
    def test_a_supervisor_queues_the_assembly_again(self, client, approved, supervisor):
        escalation = failed_missing_file(approved())
        client.force_login(supervisor)
        response = client.post(reverse("escalation_retry_assembly", args=[escalation.pk]))
        assert response.status_code == 302
        assert response.url == reverse("escalation_detail", args=[escalation.pk])
        escalation.refresh_from_db()
        assert escalation.status == "assembling" and escalation.failure_reason == ""
        assert AuditEvent.objects.filter(
            verb="escalation.assembly_retried", actor=supervisor
        ).exists()

    def test_a_ready_escalation_is_refused_with_a_message(self, client, approved, supervisor):
        escalation = approved()
        escalation_assemble(escalation_id=escalation.pk)
        client.force_login(supervisor)
        response = client.post(
            reverse("escalation_retry_assembly", args=[escalation.pk]), follow=True
        )
        assert "only an escalation whose packet could not be assembled" in response.content.decode()
        escalation.refresh_from_db()
        assert escalation.status == "ready"

    def test_an_unknown_escalation_is_a_404(self, client, supervisor):
        client.force_login(supervisor)
        assert client.post(reverse("escalation_retry_assembly", args=[999999])).status_code == 404
