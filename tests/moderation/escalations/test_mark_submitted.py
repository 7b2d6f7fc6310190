"""Manual submission: a supervisor records the report id the CyberTipline gave them, which starts
preservation; then marks the report acknowledged."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from tests.moderation.custody_helpers import make_escalation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def escalation(make_user, submit_report, png_upload):
    report = submit_report(category="harassment", images=[png_upload()])
    return make_escalation(make_user, [report])


def mark(client, escalation, report_id):
    return client.post(f"/escalations/{escalation.pk}/mark-submitted/", {"report_id": report_id})


@pytest.mark.django_db
class TestMarkSubmitted:
    def test_it_records_the_report_id_and_preserves_for_at_least_a_year(
        self, client, supervisor, escalation
    ):
        client.force_login(supervisor)
        with mock.patch("moderation.escalations.services.timezone.now", return_value=NOW):
            response = mark(client, escalation, " 123456789 ")
        assert response.status_code == 302
        assert response.url == f"/escalations/{escalation.pk}/"
        escalation.refresh_from_db()
        assert escalation.status == Escalation.Status.SUBMITTED
        assert escalation.report_id == 123456789
        assert escalation.submitted_via == "manual"
        assert escalation.submitted_by == supervisor
        assert escalation.submitted_at == NOW
        assert escalation.preserve_until >= NOW + timedelta(days=365)
        event = AuditEvent.objects.get(verb="escalation.submitted")
        assert event.actor == supervisor
        assert event.after["report_id"] == 123456789
        assert event.after["packet_sha256"] == escalation.packet_sha256

    def test_it_keeps_longer_when_the_deployment_says_so(
        self, client, supervisor, escalation, settings
    ):
        settings.EVIDENCE_PRESERVATION_DAYS = 800
        client.force_login(supervisor)
        with mock.patch("moderation.escalations.services.timezone.now", return_value=NOW):
            mark(client, escalation, "77")
        escalation.refresh_from_db()
        assert escalation.preserve_until == NOW + timedelta(days=800)

    @pytest.mark.parametrize("value", ["abc", "12.5", "-4", "0", "١٢٣", "", "99999999999999999999"])
    def test_it_refuses_what_is_not_a_positive_whole_number(
        self, client, supervisor, escalation, value
    ):
        client.force_login(supervisor)
        response = mark(client, escalation, value)
        assert response.status_code == 400
        assert response.context["form"].errors["report_id"]
        escalation.refresh_from_db()
        assert escalation.status == Escalation.Status.READY
        assert escalation.report_id is None

    def test_it_refuses_a_report_id_already_recorded(
        self, client, supervisor, escalation, make_user, submit_report, png_upload
    ):
        other = make_escalation(
            make_user, [submit_report(category="spam", images=[png_upload(colour=(1, 2, 3))])]
        )
        client.force_login(supervisor)
        assert mark(client, other, "555").status_code == 302
        response = mark(client, escalation, "555")
        assert response.status_code == 400
        assert "already recorded" in str(response.context["form"].errors["report_id"])
        escalation.refresh_from_db()
        assert escalation.status == Escalation.Status.READY

    @pytest.mark.parametrize("status", ["assembling", "withdrawn"])
    def test_it_refuses_an_escalation_that_is_not_ready(
        self, client, supervisor, escalation, status
    ):
        Escalation.objects.filter(pk=escalation.pk).update(status=status)
        client.force_login(supervisor)
        response = mark(client, escalation, "42")
        assert response.status_code == 400
        assert "cannot be marked submitted" in str(response.context["form"].non_field_errors())
        escalation.refresh_from_db()
        assert escalation.status == status and escalation.report_id is None

    def test_a_packet_whose_api_submission_failed_can_still_go_by_hand(
        self, client, supervisor, escalation
    ):
        Escalation.objects.filter(pk=escalation.pk).update(
            status="failed", failure_reason="Refused by the CyberTipline (code 1000): bad login"
        )
        client.force_login(supervisor)
        page = client.get(f"/escalations/{escalation.pk}/")
        assert b'data-testid="mark-submitted"' in page.content
        assert b'data-testid="download-packet"' in page.content
        assert mark(client, escalation, "42").status_code == 302
        escalation.refresh_from_db()
        assert escalation.status == "submitted" and escalation.report_id == 42
        assert escalation.failure_reason == ""

    def test_a_failed_assembly_cannot_be_marked_submitted(self, client, supervisor, escalation):
        Escalation.objects.filter(pk=escalation.pk).update(
            status="failed", failure_reason="x", packet_sha256="", packet=""
        )
        client.force_login(supervisor)
        response = mark(client, escalation, "42")
        assert response.status_code == 400
        assert "no packet ready to submit by hand" in str(
            response.context["form"].non_field_errors()
        )

    def test_it_refuses_marking_twice(self, client, supervisor, escalation):
        client.force_login(supervisor)
        mark(client, escalation, "42")
        response = mark(client, escalation, "43")
        assert response.status_code == 400
        escalation.refresh_from_db()
        assert escalation.report_id == 42

    def test_it_is_for_supervisors_only(self, client, reviewer, escalation):
        client.force_login(reviewer)
        assert mark(client, escalation, "42").status_code == 403
        escalation.refresh_from_db()
        assert escalation.status == Escalation.Status.READY


@pytest.mark.django_db
class TestMarkAcknowledged:
    def test_it_marks_a_submitted_report_acknowledged(self, client, supervisor, escalation):
        client.force_login(supervisor)
        mark(client, escalation, "42")
        response = client.post(f"/escalations/{escalation.pk}/mark-acknowledged/")
        assert response.status_code == 302
        escalation.refresh_from_db()
        assert escalation.status == Escalation.Status.ACKNOWLEDGED
        assert escalation.acknowledged_at is not None
        assert AuditEvent.objects.get(verb="escalation.acknowledged").actor == supervisor

    def test_it_refuses_one_not_submitted(self, client, supervisor, escalation):
        client.force_login(supervisor)
        response = client.post(f"/escalations/{escalation.pk}/mark-acknowledged/")
        assert response.status_code == 302
        escalation.refresh_from_db()
        assert escalation.status == Escalation.Status.READY
        assert not AuditEvent.objects.filter(verb="escalation.acknowledged").exists()


@pytest.mark.django_db
def test_it_refuses_while_an_api_submission_is_in_progress(client, supervisor, escalation):
    from django.utils import timezone

    Escalation.objects.filter(pk=escalation.pk).update(submission_started_at=timezone.now())
    client.force_login(supervisor)
    html = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert 'data-testid="mark-submitted"' not in html
    assert 'data-testid="submission-in-progress"' in html
    response = mark(client, escalation, "42")
    assert response.status_code == 400
    assert "being submitted through the CyberTipline API" in str(
        response.context["form"].non_field_errors()
    )
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.READY and escalation.report_id is None
