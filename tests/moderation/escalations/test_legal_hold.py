"""Legal holds: a supervisor keeps evidence past its preservation date (until a date, or until
lifted), with a reason; every change is audited."""

from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from moderation.audit.models import AuditEvent
from moderation.escalations import custody
from moderation.escalations.models import Escalation
from moderation.escalations.services import EscalationStateError
from tests.moderation.custody_helpers import make_escalation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def escalation(make_user, submit_report, png_upload):
    report = submit_report(category="harassment", images=[png_upload()])
    return make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)


@pytest.fixture
def frozen():
    with (
        mock.patch("moderation.escalations.custody.timezone.now", return_value=NOW),
        mock.patch("moderation.escalations.custody.timezone.localdate", return_value=NOW.date()),
    ):
        yield


@pytest.mark.django_db
class TestLegalHoldServices:
    def test_it_holds_until_a_date_and_audits_it(self, supervisor, escalation, frozen):
        custody.escalation_set_legal_hold(
            escalation_id=escalation.pk,
            user=supervisor,
            reason="subpoena 24-113",
            until=date(2028, 6, 30),
        )
        escalation.refresh_from_db()
        assert escalation.legal_hold and escalation.legal_hold_by == supervisor
        assert escalation.legal_hold_until.date() == date(2028, 6, 30)
        assert escalation.legal_hold_reason == "subpoena 24-113"
        event = AuditEvent.objects.get(verb="escalation.legal_hold_set")
        assert event.actor == supervisor
        assert event.before["legal_hold"] is False
        assert event.after["reason"] == "subpoena 24-113"

    def test_a_hold_keeps_the_evidence_past_its_preservation_date(self, supervisor, escalation):
        custody.escalation_set_legal_hold(
            escalation_id=escalation.pk, user=supervisor, reason="court order", until=None
        )
        escalation.refresh_from_db()
        later = escalation.preserve_until + timedelta(days=400)
        keep = custody.preservation(escalation, now=later)
        assert keep.hold and keep.kept_until is None and not keep.expired
        assert custody.expired_escalation_ids(later) == []

    def test_setting_it_again_extends_it(self, supervisor, escalation, frozen):
        for until in (date(2028, 1, 1), date(2029, 1, 1)):
            custody.escalation_set_legal_hold(
                escalation_id=escalation.pk, user=supervisor, reason="extended", until=until
            )
        escalation.refresh_from_db()
        assert escalation.legal_hold_until.date() == date(2029, 1, 1)
        keep = custody.preservation(escalation, now=NOW)
        assert keep.kept_until.date() == date(2029, 1, 1)
        events = AuditEvent.objects.filter(verb="escalation.legal_hold_set").order_by("id")
        assert events[1].before["legal_hold_until"].startswith("2028-01-01")

    def test_a_dated_hold_that_has_ended_no_longer_holds(self, supervisor, escalation, frozen):
        custody.escalation_set_legal_hold(
            escalation_id=escalation.pk, user=supervisor, reason="r", until=date(2027, 1, 1)
        )
        escalation.refresh_from_db()
        after = max(escalation.preserve_until, escalation.legal_hold_until) + timedelta(days=1)
        assert custody.expired_escalation_ids(after) == [escalation.pk]
        during = escalation.preserve_until + timedelta(hours=1)
        assert escalation.legal_hold_until < during  # the hold ended before preservation did
        assert custody.expired_escalation_ids(during) == [escalation.pk]

    @pytest.mark.parametrize("until", [date(2026, 11, 22), date(2026, 1, 1)])
    def test_it_refuses_a_date_that_is_not_after_today(self, supervisor, escalation, frozen, until):
        with pytest.raises(ValidationError) as e:
            custody.escalation_set_legal_hold(
                escalation_id=escalation.pk, user=supervisor, reason="r", until=until
            )
        assert "until" in e.value.message_dict

    def test_it_needs_a_reason(self, supervisor, escalation):
        with pytest.raises(ValidationError) as e:
            custody.escalation_set_legal_hold(
                escalation_id=escalation.pk, user=supervisor, reason="  "
            )
        assert "reason" in e.value.message_dict
        escalation.refresh_from_db()
        assert not escalation.legal_hold

    def test_only_supervisors_may_hold(self, reviewer, escalation):
        with pytest.raises(PermissionDenied):
            custody.escalation_set_legal_hold(
                escalation_id=escalation.pk, user=reviewer, reason="r"
            )

    def test_it_lifts_a_hold_and_audits_why(self, supervisor, escalation):
        custody.escalation_set_legal_hold(escalation_id=escalation.pk, user=supervisor, reason="r")
        custody.escalation_lift_legal_hold(
            escalation_id=escalation.pk, user=supervisor, reason="case closed"
        )
        escalation.refresh_from_db()
        assert not escalation.legal_hold and escalation.legal_hold_until is None
        event = AuditEvent.objects.get(verb="escalation.legal_hold_lifted")
        assert event.before["legal_hold"] is True and event.after["reason"] == "case closed"

    def test_it_refuses_to_lift_what_is_not_held(self, supervisor, escalation):
        with pytest.raises(EscalationStateError):
            custody.escalation_lift_legal_hold(
                escalation_id=escalation.pk, user=supervisor, reason="x"
            )

    def test_it_refuses_a_hold_once_the_evidence_is_gone(self, supervisor, escalation):
        Escalation.objects.filter(pk=escalation.pk).update(evidence_deleted_at=NOW)
        with pytest.raises(EscalationStateError):
            custody.escalation_set_legal_hold(
                escalation_id=escalation.pk, user=supervisor, reason="r"
            )


@pytest.mark.django_db
class TestLegalHoldPages:
    def test_it_sets_a_hold_from_the_page(self, client, supervisor, escalation):
        client.force_login(supervisor)
        response = client.post(
            f"/escalations/{escalation.pk}/legal-hold/",
            {"reason": "preservation letter", "until": ""},
        )
        assert response.status_code == 302
        escalation.refresh_from_db()
        assert escalation.legal_hold and escalation.legal_hold_until is None

    def test_it_shows_a_past_date_as_a_form_error(self, client, supervisor, escalation):
        client.force_login(supervisor)
        response = client.post(
            f"/escalations/{escalation.pk}/legal-hold/", {"reason": "r", "until": "2020-01-01"}
        )
        assert response.status_code == 400
        assert response.context["form"].errors["until"]
        escalation.refresh_from_db()
        assert not escalation.legal_hold

    def test_it_lifts_a_hold_from_the_page(self, client, supervisor, escalation):
        custody.escalation_set_legal_hold(escalation_id=escalation.pk, user=supervisor, reason="r")
        client.force_login(supervisor)
        assert (
            client.post(
                f"/escalations/{escalation.pk}/legal-hold/lift/", {"reason": ""}
            ).status_code
            == 400
        )
        response = client.post(f"/escalations/{escalation.pk}/legal-hold/lift/", {"reason": "done"})
        assert response.status_code == 302
        escalation.refresh_from_db()
        assert not escalation.legal_hold

    def test_reviewers_may_not_hold(self, client, reviewer, escalation):
        client.force_login(reviewer)
        response = client.post(f"/escalations/{escalation.pk}/legal-hold/", {"reason": "r"})
        assert response.status_code == 403
