"""Opening, preparing and approving escalations: the two-person rule and the states."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from moderation.escalations.services import (
    EscalationStateError,
    escalation_approve,
    escalation_mark_acknowledged,
    escalation_mark_submitted,
    escalation_open,
    escalation_request_approval,
    escalation_return,
    escalation_update_details,
    escalation_withdraw,
)
from tests.moderation.escalation_fixtures import DETAILS, prepared


@pytest.mark.django_db
class TestOpening:
    def test_it_gathers_one_accounts_content_into_one_draft(self, escalate, make_user):
        first, _ = escalate()
        second, _ = escalate()
        other, _ = escalate(owner="acct-2")
        assert first == second != other
        assert first.cases.count() == 2 and first.status == "draft"

    def test_content_escalated_after_approval_opens_a_new_escalation(self, escalate, make_user):
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        escalation_approve(escalation_id=escalation.pk, user=make_user("boss", Role.SUPERVISOR))
        later, _ = escalate()
        assert later != escalation and later.status == "draft"
        assert list(escalation.cases.all()) != list(later.cases.all())

    def test_a_bank_policy_opens_an_urgent_one_with_its_reason(self, submit_report):
        report = submit_report(category="csam", owner_id="acct-9")
        escalation = escalation_open(
            case=report.case, reason="bank", actor_label="bank", urgent_reason="live stream"
        )
        assert escalation.urgent and escalation.urgent_reason == "live stream"
        assert escalation.opened_by is None

    def test_a_case_already_gathered_stays_in_its_one_draft_without_a_known_owner(
        self, submit_report, reviewer
    ):
        # A public-form report has no owner to gather by: the bank escalates, then a reviewer.
        case = submit_report(category="csam", owner_id="").case
        by_bank = escalation_open(case=case, reason="bank", actor_label="bank")
        by_reviewer = escalation_open(case=case, reason="decision", user=reviewer)
        assert by_reviewer == by_bank
        assert list(Escalation.objects.filter(cases=case)) == [by_bank]
        assert AuditEvent.objects.filter(verb="escalation.opened").count() == 1


@pytest.mark.django_db
class TestPreparing:
    def test_it_records_the_details_and_audits_what_changed(self, escalate):
        escalation, reviewer = escalate()
        escalation_update_details(
            escalation_id=escalation.pk,
            user=reviewer,
            **{**DETAILS, "urgent": True, "urgent_reason": "child named in the caption"},
        )
        escalation.refresh_from_db()
        assert escalation.urgent and escalation.annotations == ["sextortion"]
        event = AuditEvent.objects.get(verb="escalation.details_changed")
        assert event.after["urgent"] is True and "incident_type" not in event.after

    @pytest.mark.parametrize(
        "overrides, field",
        [
            ({"urgent": True, "urgent_reason": "  "}, "urgent_reason"),
            ({"annotations": ["made-up"]}, "annotations"),
            ({"incident_type": "Something else"}, "incident_type"),
        ],
    )
    def test_it_refuses_bad_details(self, escalate, overrides, field):
        escalation, reviewer = escalate()
        with pytest.raises(ValidationError) as e:
            escalation_update_details(
                escalation_id=escalation.pk, user=reviewer, **{**DETAILS, **overrides}
            )
        assert field in e.value.message_dict

    def test_approval_needs_a_description(self, escalate):
        escalation, reviewer = escalate()
        with pytest.raises(ValidationError, match="Describe the incident"):
            escalation_request_approval(escalation_id=escalation.pk, user=reviewer)

    def test_details_are_fixed_once_sent_for_approval(self, escalate, make_user):
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        boss = make_user("boss", Role.SUPERVISOR)
        # Not even the approver rewrites it: they send it back (the two-person rule).
        for user in (reviewer, boss):
            with pytest.raises(EscalationStateError, match="cannot be edited"):
                escalation_update_details(escalation_id=escalation.pk, user=user, **DETAILS)


@pytest.mark.django_db
class TestTwoPersonRule:
    def test_the_escalating_reviewer_cannot_approve_even_as_a_senior(self, escalate, make_user):
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        escalation, _ = escalate(reviewer=senior)
        prepared(escalation, senior)
        with pytest.raises(EscalationStateError, match="two-person rule"):
            escalation_approve(escalation_id=escalation.pk, user=senior)

    def test_whoever_asked_for_approval_cannot_approve(self, escalate, make_user):
        escalation, _ = escalate()
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        prepared(escalation, senior)
        with pytest.raises(EscalationStateError, match="two-person rule"):
            escalation_approve(escalation_id=escalation.pk, user=senior)

    def test_a_plain_reviewer_cannot_approve(self, escalate, make_user):
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        with pytest.raises(EscalationStateError):
            escalation_approve(escalation_id=escalation.pk, user=make_user("other"))

    def test_another_senior_approves_and_assembly_is_queued(
        self, escalate, make_user, django_capture_on_commit_callbacks
    ):
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        boss = make_user("boss", Role.SENIOR_REVIEWER)
        with django_capture_on_commit_callbacks() as callbacks:
            escalation_approve(escalation_id=escalation.pk, user=boss)
        escalation.refresh_from_db()
        assert escalation.status == "assembling" and escalation.approved_by == boss
        assert len(callbacks) == 1  # the assembly job, handed over after commit
        assert AuditEvent.objects.filter(verb="escalation.approved", actor=boss).exists()

    def test_the_database_refuses_an_approval_by_the_requester(self, escalate):
        escalation, reviewer = escalate()
        with pytest.raises(IntegrityError), transaction.atomic():
            Escalation.objects.filter(pk=escalation.pk).update(
                approval_requested_by=reviewer, approved_by=reviewer
            )

    def test_sending_back_needs_a_note_and_returns_it_to_draft(self, escalate, make_user):
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        boss = make_user("boss", Role.SUPERVISOR)
        with pytest.raises(ValidationError):
            escalation_return(escalation_id=escalation.pk, user=boss, note=" ")
        escalation_return(escalation_id=escalation.pk, user=boss, note="Add the group name.")
        escalation.refresh_from_db()
        assert escalation.status == "draft" and escalation.review_note == "Add the group name."


@pytest.mark.django_db
class TestSubmission:
    def test_submission_starts_at_least_a_year_of_preservation(self, ready_escalation, supervisor):
        escalation = escalation_mark_submitted(
            escalation_id=ready_escalation.pk, report_id=123456, via="manual", user=supervisor
        )
        assert escalation.status == "submitted" and escalation.report_id == 123456
        assert escalation.preserve_until - escalation.submitted_at >= timedelta(days=365)
        event = AuditEvent.objects.get(verb="escalation.submitted")
        assert event.after["packet_sha256"] == "ab" * 32

    def test_a_longer_preservation_setting_is_honoured_and_a_shorter_one_is_not(
        self, ready_escalation, supervisor, settings
    ):
        settings.EVIDENCE_PRESERVATION_DAYS = 30
        escalation = escalation_mark_submitted(
            escalation_id=ready_escalation.pk, report_id=1, via="manual", user=supervisor
        )
        assert escalation.preserve_until - escalation.submitted_at == timedelta(days=365)

    def test_a_report_id_is_recorded_once(self, ready_escalation, escalate, make_user, supervisor):
        escalation_mark_submitted(escalation_id=ready_escalation.pk, report_id=7, via="manual")
        other, reviewer = escalate(owner="acct-2")
        prepared(other, reviewer)
        escalation_approve(escalation_id=other.pk, user=supervisor)
        Escalation.objects.filter(pk=other.pk).update(status="ready", packet_sha256="cd" * 32)
        with pytest.raises(ValidationError, match="already recorded"):
            escalation_mark_submitted(escalation_id=other.pk, report_id=7, via="manual")

    def test_only_a_ready_packet_can_be_submitted(self, escalate):
        escalation, _ = escalate()
        with pytest.raises(EscalationStateError, match="cannot be marked submitted"):
            escalation_mark_submitted(escalation_id=escalation.pk, report_id=5, via="manual")

    def test_acknowledgement_follows_submission(self, ready_escalation, supervisor):
        with pytest.raises(EscalationStateError):
            escalation_mark_acknowledged(escalation_id=ready_escalation.pk, user=supervisor)
        escalation_mark_submitted(escalation_id=ready_escalation.pk, report_id=9, via="manual")
        escalation = escalation_mark_acknowledged(
            escalation_id=ready_escalation.pk, user=supervisor
        )
        assert escalation.status == "acknowledged"
        assert escalation.acknowledged_at <= timezone.now()

    def test_withdrawing_needs_a_reason_and_stops_before_submission(
        self, ready_escalation, supervisor
    ):
        with pytest.raises(ValidationError):
            escalation_withdraw(escalation_id=ready_escalation.pk, user=supervisor, note="")
        escalation_withdraw(
            escalation_id=ready_escalation.pk, user=supervisor, note="decision overturned"
        )
        ready_escalation.refresh_from_db()
        assert ready_escalation.status == "withdrawn"
        with pytest.raises(EscalationStateError):
            escalation_mark_submitted(escalation_id=ready_escalation.pk, report_id=5, via="manual")


@pytest.mark.django_db
class TestAuthorsAndCorrections:
    def test_a_senior_who_wrote_the_report_cannot_approve_it(self, escalate, make_user):
        escalation, reviewer = escalate()
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        escalation_update_details(
            escalation_id=escalation.pk,
            user=senior,
            **{**DETAILS, "incident_summary": "The senior's words."},
        )
        # Someone else sends it for approval: the senior still wrote it.
        escalation_request_approval(escalation_id=escalation.pk, user=reviewer)
        with pytest.raises(EscalationStateError, match="two-person rule"):
            escalation_approve(escalation_id=escalation.pk, user=senior)

    def failed_assembly(self, escalate, make_user):
        escalation, reviewer = escalate()
        prepared(escalation, reviewer)
        boss = make_user("boss", Role.SUPERVISOR)
        escalation_approve(escalation_id=escalation.pk, user=boss)
        Escalation.objects.filter(pk=escalation.pk).update(
            status="failed",
            failure_reason="The packet does not validate against the CyberTipline schema",
            failure_details=["report.xml: line 3: bad"],
        )
        return escalation, reviewer, boss

    def test_a_failed_assembly_goes_back_to_draft_to_be_corrected_and_approved_again(
        self, escalate, make_user
    ):
        escalation, reviewer, boss = self.failed_assembly(escalate, make_user)
        escalation_return(escalation_id=escalation.pk, user=boss, note="Fix the summary.")
        escalation.refresh_from_db()
        assert escalation.status == "draft" and escalation.approved_by is None
        assert escalation.failure_reason == "" and not escalation.files.exists()
        escalation_update_details(
            escalation_id=escalation.pk, user=reviewer, **{**DETAILS, "incident_summary": "Fixed."}
        )
        escalation_request_approval(escalation_id=escalation.pk, user=reviewer)
        escalation_approve(escalation_id=escalation.pk, user=boss)
        escalation.refresh_from_db()
        assert escalation.status == "assembling"

    def test_a_failed_assembly_joins_the_accounts_newer_draft(self, escalate, make_user):
        escalation, _, boss = self.failed_assembly(escalate, make_user)
        newer, _ = escalate()  # same account, escalated after the approval: a new draft
        assert newer != escalation
        result = escalation_return(escalation_id=escalation.pk, user=boss, note="Redo it.")
        escalation.refresh_from_db()
        assert result == newer and escalation.status == "withdrawn"
        assert f"Merged into escalation {newer.pk}" in escalation.review_note
        assert set(escalation.cases.all()) <= set(newer.cases.all())
        assert AuditEvent.objects.filter(verb="escalation.merged").exists()

    def test_only_a_failed_assembly_can_be_sent_back_not_a_ready_packet(
        self, ready_escalation, supervisor
    ):
        with pytest.raises(EscalationStateError, match="cannot be sent back"):
            escalation_return(escalation_id=ready_escalation.pk, user=supervisor, note="no")


@pytest.mark.django_db
def test_withdrawing_deletes_the_packet_copy_after_commit(
    escalate, make_user, supervisor, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    from moderation.escalations.packet import escalation_assemble

    escalation, reviewer = escalate()
    prepared(escalation, reviewer)
    escalation_approve(escalation_id=escalation.pk, user=make_user("boss", Role.SUPERVISOR))
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    name, sha = escalation.packet.name, escalation.packet_sha256
    assert escalation.status == "ready" and default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        escalation_withdraw(escalation_id=escalation.pk, user=supervisor, note="overturned")
    escalation.refresh_from_db()
    assert not default_storage.exists(name) and not escalation.packet
    assert escalation.packet_sha256 == sha
    event = AuditEvent.objects.get(verb="escalation.withdrawn")
    assert event.after["packet_deleted"] == sha
