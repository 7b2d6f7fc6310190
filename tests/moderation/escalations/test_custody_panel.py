"""The custody part of the escalation page: what a supervisor can do at each step, and what the
others see."""

from datetime import timedelta

import pytest
from django.utils import timezone

from moderation.escalations import custody
from moderation.escalations.models import Escalation
from tests.moderation.custody_helpers import make_escalation


@pytest.fixture
def report(submit_report, png_upload):
    return submit_report(category="harassment", images=[png_upload()])


def page(client, escalation):
    response = client.get(f"/escalations/{escalation.pk}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
class TestCustodyPanel:
    def test_a_ready_packet_offers_download_and_manual_submission(
        self, client, supervisor, make_user, report
    ):
        escalation = make_escalation(make_user, [report])
        client.force_login(supervisor)
        html = page(client, escalation)
        assert escalation.packet_sha256 in html
        assert f'href="/escalations/{escalation.pk}/packet/"' in html
        assert 'data-testid="mark-submitted"' in html
        assert 'name="report_id"' in html
        assert 'data-testid="mark-acknowledged"' not in html

    def test_a_submitted_report_shows_its_preservation_and_can_be_acknowledged(
        self, client, supervisor, make_user, report
    ):
        escalation = make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)
        client.force_login(supervisor)
        html = page(client, escalation)
        assert str(escalation.report_id) in html
        assert f"{escalation.preserve_until:%Y-%m-%d}" in html
        assert 'data-testid="mark-acknowledged"' in html
        assert 'data-testid="mark-submitted"' not in html
        assert 'data-testid="set-legal-hold"' in html
        assert 'data-testid="lift-legal-hold"' not in html

    def test_a_hold_is_shown_with_its_reason_and_can_be_lifted(
        self, client, supervisor, make_user, report
    ):
        escalation = make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)
        until = timezone.localdate() + timedelta(days=800)
        custody.escalation_set_legal_hold(
            escalation_id=escalation.pk, user=supervisor, reason="order 7/26", until=until
        )
        client.force_login(supervisor)
        html = page(client, escalation)
        assert f"until {until:%Y-%m-%d}: order 7/26" in html
        assert 'data-testid="lift-legal-hold"' in html

    def test_deleted_evidence_says_so_and_offers_nothing(
        self, client, supervisor, make_user, report
    ):
        escalation = make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)
        custody.evidence_purge_expired(now=escalation.preserve_until + timedelta(days=1))
        client.force_login(supervisor)
        html = page(client, escalation)
        assert 'data-testid="evidence-deleted"' in html
        assert escalation.packet_sha256 in html  # the record stays
        assert "/packet/" not in html
        assert 'data-testid="set-legal-hold"' not in html

    @pytest.mark.parametrize("status", ["assembling", "withdrawn"])
    def test_no_download_is_offered_without_a_packet_to_give(
        self, client, supervisor, make_user, report, status
    ):
        escalation = make_escalation(make_user, [report])
        Escalation.objects.filter(pk=escalation.pk).update(status=status)
        client.force_login(supervisor)
        assert "/packet/" not in page(client, escalation)

    def test_a_senior_reviewer_sees_the_hash_but_no_controls(self, client, make_user, report):
        from accounts.roles import Role

        escalation = make_escalation(make_user, [report])
        client.force_login(make_user("senior", Role.SENIOR_REVIEWER))
        html = page(client, escalation)
        assert escalation.packet_sha256 in html
        assert "/packet/" not in html
        assert 'data-testid="mark-submitted"' not in html
