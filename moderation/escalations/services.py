"""Writes on escalations: opening, preparing, the two-person approval, submission, withdrawal.

Every function owns its transaction (or joins the caller's), locks the escalation row, checks the
status it expects, and writes the audit event. Assembly is a job (moderation/escalations/jobs.py),
queued only after commit; an urgent escalation goes on the high-priority queue.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import roles
from lib.transactions import in_transaction
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
from moderation.decisions.models import Decision
from moderation.escalations.jobs import assemble_packet
from moderation.escalations.models import INCIDENT_TYPES, REPORT_ANNOTATIONS, Escalation
from moderation.outbox.services import enqueue
from reports.categories import Category

S = Escalation.Status
# The report is written in draft. Once sent for approval it is fixed: an approver who wants a
# change sends it back, so the approver never approves words of their own (two-person rule).
EDITABLE = (S.DRAFT,)
# Not yet in the authority's hands: a supervisor may still stop it.
WITHDRAWABLE = (S.DRAFT, S.AWAITING_APPROVAL, S.READY, S.FAILED)


class EscalationStateError(ValidationError):
    """The escalation is not in a state that allows this (someone else moved it meanwhile)."""


def job_queue(escalation: Escalation) -> str:
    """A child in immediate danger goes ahead of everything else the workers have to do."""
    return "high" if escalation.urgent else "default"


def _locked(escalation_id: int) -> Escalation:
    return Escalation.objects.select_for_update().get(pk=escalation_id)


def _expect(escalation: Escalation, *statuses: str, doing: str) -> None:
    if escalation.status not in statuses:
        raise EscalationStateError(
            f"Escalation {escalation.pk} is {escalation.get_status_display().lower()}, so it "
            f"cannot be {doing} now. Reload the page to see its current state."
        )


def _save(escalation: Escalation, *fields: str) -> None:
    escalation.updated_at = timezone.now()
    escalation.save(update_fields=[*fields, "updated_at"])


def escalating_reviewer_ids(escalation: Escalation) -> set[int]:
    """Everyone whose decision put content into this escalation, whoever opened it, wrote any of
    its report or asked for its approval: none of them may approve it."""
    ids = set(
        Decision.objects.filter(
            case__escalations=escalation, action=Decision.Action.ESCALATE
        ).values_list("reviewer_id", flat=True)
    )
    ids.update(
        i for i in (escalation.opened_by_id, escalation.approval_requested_by_id) if i is not None
    )
    # Whoever wrote any of the report's words is its author too.
    ids.update(
        AuditEvent.objects.filter(
            verb="escalation.details_changed",
            object_type=Escalation._meta.label_lower,
            object_id=str(escalation.pk),
            actor__isnull=False,
        ).values_list("actor_id", flat=True)
    )
    return ids


def can_prepare(user, escalation: Escalation, involved: set[int] | None = None) -> bool:
    """The reviewers who escalated its content, and any senior reviewer, may prepare the report.
    `involved`: escalating_reviewer_ids(escalation) when the caller has it already."""
    if involved is None:
        involved = escalating_reviewer_ids(escalation)
    return user.has_perm(roles.SENIOR_REVIEW) or user.pk in involved


def can_approve(user, escalation: Escalation, involved: set[int] | None = None) -> bool:
    """A senior reviewer or supervisor who took no part in it (the two-person rule)."""
    if involved is None:
        involved = escalating_reviewer_ids(escalation)
    return user.has_perm(roles.SENIOR_REVIEW) and user.pk not in involved


# The CyberTipline incident type a new escalation starts with, by the category of the case that
# opens it (the preparer may change it before approval). Other categories start with the first
# of the schema's types, as before, which the preparer likewise confirms or changes.
ENTICEMENT = "Online Enticement of Children for Sexual Acts"
CHILD_PORNOGRAPHY = "Child Pornography (possession, manufacture, and distribution)"
INCIDENT_TYPE_BY_CATEGORY = {
    Category.GROOMING: ENTICEMENT,
    Category.SEXTORTION: ENTICEMENT,
    Category.CSAM: CHILD_PORNOGRAPHY,
    Category.CHILD_NUDITY: CHILD_PORNOGRAPHY,
    Category.SELF_GENERATED: CHILD_PORNOGRAPHY,
}


@in_transaction
def escalation_open(
    *,
    case,
    reason: str,
    user=None,
    actor_label: str = "",
    urgent_reason: str = "",
    owner: str | None = None,
) -> Escalation:
    """Add the case to the escalation gathering its owner's content, or open one, its incident
    type from the case's category (INCIDENT_TYPE_BY_CATEGORY). `owner`: the account reported,
    when a decision named one other than the content's owner (a participant of a conversation).
    Call inside the caller's transaction (the decision, or the bank policy that escalates)."""
    owner = case.content_item.owner_id if owner is None else owner
    # Already gathered (a bank escalated it, then a reviewer did): one draft per case, even when
    # the owner is unknown and there is no account to gather by.
    already = (
        Escalation.objects.select_for_update()
        .filter(authority=Escalation.Authority.NCMEC, cases=case, status__in=Escalation.GATHERING)
        .order_by("pk")
        .first()
    )
    if already is not None:
        if urgent_reason and not already.urgent:
            already.urgent, already.urgent_reason = True, urgent_reason[:500]
            _save(already, "urgent", "urgent_reason")
        return already
    gathering = Escalation.objects.select_for_update().filter(
        authority=Escalation.Authority.NCMEC, owner_id=owner, status__in=Escalation.GATHERING
    )
    escalation = gathering.first() if owner else None
    created = False
    if escalation is None:
        try:
            with transaction.atomic():
                escalation = Escalation.objects.create(
                    owner_id=owner,
                    incident_type=INCIDENT_TYPE_BY_CATEGORY.get(case.category, INCIDENT_TYPES[0]),
                    opened_by=user,
                    opened_reason=reason[:300],
                    urgent=bool(urgent_reason),
                    urgent_reason=urgent_reason[:500],
                )
                created = True
        except IntegrityError:
            # Another worker opened it a moment ago: join it.
            escalation = gathering.get()
    # A case joining a draft never changes its incident type, even a draft still at the default
    # (a CSAM image, then a grooming conversation of the same account): the type was set by the
    # case that opened it or by the preparer, and which one the report is chiefly about is the
    # preparer's call, made on the escalation's page before approval.
    if urgent_reason and not escalation.urgent:
        escalation.urgent, escalation.urgent_reason = True, urgent_reason[:500]
        _save(escalation, "urgent", "urgent_reason")
    escalation.cases.add(case)
    audit_record(
        verb="escalation.opened" if created else "escalation.case_added",
        obj=escalation,
        case=case,
        actor=user,
        actor_label=actor_label,
        after={
            "owner_id": owner,
            "case": case.pk,
            "reason": reason[:300],
            "status": escalation.status,
            "urgent": escalation.urgent,
            "incident_type": escalation.incident_type,
        },
    )
    return escalation


@in_transaction
def escalation_gather(*, escalation: Escalation, cases, reason: str, user=None) -> list[int]:
    """Add cases to a gathering escalation as its evidence (an account case's: the conversations
    and content its decision acts on), whoever owns their content. Returns the ids added. Call
    inside the caller's transaction."""
    # A case already in another report to the authority (open or handed over) is reported there.
    elsewhere = set(
        Escalation.objects.filter(cases__in=[c.pk for c in cases])
        .exclude(pk=escalation.pk)
        .exclude(status=Escalation.Status.WITHDRAWN)
        .values_list("cases", flat=True)
    )
    have = set(escalation.cases.values_list("pk", flat=True))
    added = [case for case in cases if case.pk not in have and case.pk not in elsewhere]
    if not added:
        return []
    escalation.cases.add(*added)
    audit_record(
        verb="escalation.cases_gathered",
        obj=escalation,
        actor=user,
        after={"cases": [c.pk for c in added], "reason": reason[:300]},
    )
    return [c.pk for c in added]


DETAIL_FIELDS = ("incident_type", "incident_summary", "annotations", "urgent", "urgent_reason")


def escalation_update_details(
    *,
    escalation_id: int,
    user,
    incident_type: str,
    incident_summary: str,
    annotations: list[str],
    urgent: bool,
    urgent_reason: str,
) -> Escalation:
    """What the report will say. Editable in draft only."""
    unknown = sorted(set(annotations) - set(REPORT_ANNOTATIONS))
    if unknown:
        raise ValidationError({"annotations": f"Unknown annotations: {', '.join(unknown)}."})
    if incident_type not in Escalation.IncidentType.values:
        raise ValidationError({"incident_type": "Choose one of the CyberTipline incident types."})
    urgent_reason = urgent_reason.strip() if urgent else ""
    if urgent and not urgent_reason:
        raise ValidationError(
            {"urgent_reason": "Say why a child is in immediate danger: the authority reads this."}
        )
    with transaction.atomic(durable=True):
        escalation = _locked(escalation_id)
        _expect(escalation, *EDITABLE, doing="edited")
        before = {f: getattr(escalation, f) for f in DETAIL_FIELDS}
        escalation.incident_type = incident_type
        escalation.incident_summary = incident_summary.strip()
        escalation.annotations = sorted(set(annotations))
        escalation.urgent, escalation.urgent_reason = urgent, urgent_reason
        after = {f: getattr(escalation, f) for f in DETAIL_FIELDS}
        if after != before:
            _save(escalation, *DETAIL_FIELDS)
            audit_record(
                verb="escalation.details_changed",
                obj=escalation,
                actor=user,
                before={k: v for k, v in before.items() if after[k] != v},
                after={k: v for k, v in after.items() if before[k] != v},
            )
    return escalation


def escalation_request_approval(*, escalation_id: int, user) -> Escalation:
    with transaction.atomic(durable=True):
        escalation = _locked(escalation_id)
        _expect(escalation, S.DRAFT, doing="sent for approval")
        if not escalation.incident_summary:
            raise ValidationError(
                {"incident_summary": "Describe the incident before asking for approval."}
            )
        if not escalation.cases.exists():
            raise EscalationStateError("This escalation has no content to report.")
        escalation.status = S.AWAITING_APPROVAL
        escalation.approval_requested_by = user
        escalation.approval_requested_at = timezone.now()
        escalation.review_note = ""
        _save(escalation, "status", "approval_requested_by", "approval_requested_at", "review_note")
        audit_record(
            verb="escalation.approval_requested",
            obj=escalation,
            actor=user,
            before={"status": S.DRAFT},
            after={"status": escalation.status, "urgent": escalation.urgent},
        )
    return escalation


def escalation_approve(*, escalation_id: int, user) -> Escalation:
    """The second person's approval: the packet is assembled by a job after commit."""
    with transaction.atomic(durable=True):
        escalation = _locked(escalation_id)
        _expect(escalation, S.AWAITING_APPROVAL, doing="approved")
        if not can_approve(user, escalation):
            raise EscalationStateError(
                "Another senior reviewer or supervisor must approve this: you escalated its "
                "content or asked for its approval (the two-person rule)."
            )
        escalation.status = S.ASSEMBLING
        escalation.approved_by, escalation.approved_at = user, timezone.now()
        escalation.progress_done = escalation.progress_total = 0
        escalation.progress_step = "Queued for assembly"
        _save(
            escalation,
            "status",
            "approved_by",
            "approved_at",
            "progress_done",
            "progress_total",
            "progress_step",
        )
        audit_record(
            verb="escalation.approved",
            obj=escalation,
            actor=user,
            before={"status": S.AWAITING_APPROVAL},
            after={"status": escalation.status},
        )
        escalation_queue_assembly(escalation)
    return escalation


def escalation_queue_assembly(escalation: Escalation) -> None:
    """Queue the assembly job (after the caller's commit)."""

    enqueue(assemble_packet, escalation.pk, queue=job_queue(escalation))


def escalation_return(*, escalation_id: int, user, note: str) -> Escalation:
    """Back to draft, saying what must change: the approver, for one awaiting approval; or a
    senior reviewer or supervisor, for one whose assembly failed (e.g. its report does not
    validate), which starts over: the approval and the evidence snapshot go with the failed
    packet, and a new approval is needed after the correction. If the account has a newer draft
    meanwhile, the content joins it (one gathering escalation per account)."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say what needs to change before you can approve it."})
    with transaction.atomic(durable=True):
        escalation = _locked(escalation_id)
        failed_assembly = escalation.failed_in_assembly
        if not failed_assembly:
            _expect(escalation, S.AWAITING_APPROVAL, doing="sent back")
        if not can_approve(user, escalation):
            raise EscalationStateError(
                "Only a senior reviewer or supervisor who could approve it can send it back."
            )
        before = escalation.status
        fields = ["status", "review_note"]
        if failed_assembly:
            escalation.files.all().delete()
            escalation.approved_by = escalation.approval_requested_by = None
            escalation.approved_at = escalation.approval_requested_at = None
            escalation.progress_done = escalation.progress_total = 0
            escalation.progress_step = escalation.failure_reason = ""
            escalation.failure_details = []
            fields += [
                "approved_by",
                "approved_at",
                "approval_requested_by",
                "approval_requested_at",
                "progress_done",
                "progress_total",
                "progress_step",
                "failure_reason",
                "failure_details",
            ]
        escalation.status, escalation.review_note = S.DRAFT, note[:500]
        try:
            with transaction.atomic():
                _save(escalation, *fields)
        except IntegrityError:
            return _merge_into_draft(escalation, before=before, user=user, note=note)
        audit_record(
            verb="escalation.returned",
            obj=escalation,
            actor=user,
            before={"status": before},
            after={"status": S.DRAFT, "note": note[:500]},
        )
    return escalation


def _merge_into_draft(escalation: Escalation, *, before: str, user, note: str) -> Escalation:
    draft = Escalation.objects.select_for_update().get(
        authority=escalation.authority,
        owner_id=escalation.owner_id,
        status__in=Escalation.GATHERING,
    )
    draft.cases.add(*escalation.cases.all())
    Escalation.objects.filter(pk=escalation.pk).update(
        status=S.WITHDRAWN,
        review_note=f"Merged into escalation {draft.pk} to be corrected: {note}"[:500],
        updated_at=timezone.now(),
    )
    audit_record(
        verb="escalation.merged",
        obj=escalation,
        actor=user,
        before={"status": before},
        after={"status": S.WITHDRAWN, "into": draft.pk, "note": note[:500]},
    )
    audit_record(
        verb="escalation.case_added",
        obj=draft,
        actor=user,
        after={"from_escalation": escalation.pk, "note": note[:500]},
    )
    return draft


def escalation_withdraw(*, escalation_id: int, user, note: str) -> Escalation:
    """Stop an escalation that has not been handed to the authority (e.g. the decision behind it
    was overturned). A submitted report is retracted at the authority, not withdrawn here."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say why this escalation is withdrawn."})
    with transaction.atomic(durable=True):
        escalation = _locked(escalation_id)
        _expect(escalation, *WITHDRAWABLE, doing="withdrawn")
        check_no_submission_in_progress(escalation, doing="withdrawn")
        before = escalation.status
        # The packet is a copy of evidence made only to be reported: withdrawn, it has no use and
        # is not kept (the evidence itself stays with its cases, under normal retention). Its
        # hash stays on the record.
        packet = escalation.packet.name
        escalation.status, escalation.review_note = S.WITHDRAWN, note[:500]
        escalation.packet = ""
        _save(escalation, "status", "review_note", "packet")
        audit_record(
            verb="escalation.withdrawn",
            obj=escalation,
            actor=user,
            before={"status": before},
            after={
                "status": S.WITHDRAWN,
                "note": note[:500],
                "packet_deleted": escalation.packet_sha256 if packet else "",
            },
        )
        if packet:
            transaction.on_commit(lambda: default_storage.delete(packet))
    return escalation


def check_no_submission_in_progress(escalation: Escalation, *, doing: str) -> None:
    """While Vigil is sending the report through the authority's API, nobody may mark it
    submitted by hand or withdraw it: the report would be handed over twice, or half."""
    if escalation.submission_started_at is not None:
        raise EscalationStateError(
            f"Escalation {escalation.pk} is being submitted through the CyberTipline API, so it "
            f"cannot be {doing} now. Wait for the submission to finish or fail."
        )


def preservation_deadline(submitted_at):
    """At least a year after submission (18 U.S.C. 2258A(h) as amended in 2024)."""
    return submitted_at + timedelta(days=max(365, settings.EVIDENCE_PRESERVATION_DAYS))


def escalation_mark_submitted(
    *, escalation_id: int, report_id: int, via: str, user=None, actor_label: str = ""
) -> Escalation:
    """The report is in the authority's hands: record its report id and start preservation."""
    if report_id <= 0:
        raise ValidationError({"report_id": "The authority's report id is a positive number."})
    with transaction.atomic(durable=True):
        escalation = _locked(escalation_id)
        _expect(escalation, S.READY, S.FAILED, doing="marked submitted")
        if via != Escalation.SubmittedVia.API:
            check_no_submission_in_progress(escalation, doing="marked submitted by hand")
            if not escalation.manual_submission_open:
                raise EscalationStateError(
                    f"Escalation {escalation.pk} has no packet ready to submit by hand (its "
                    "assembly failed, or a report is open at the authority: retract it first)."
                )
        before = escalation.status
        # The API saves the report id as soon as the authority issues it, before `finish`.
        others = Escalation.objects.exclude(pk=escalation.pk)
        if others.filter(authority=escalation.authority, report_id=report_id).exists():
            raise ValidationError(
                {"report_id": f"Report id {report_id} is already recorded on another escalation."}
            )
        now = timezone.now()
        escalation.status = S.SUBMITTED
        escalation.report_id = report_id
        escalation.submitted_via = via
        escalation.submitted_at, escalation.submitted_by = now, user
        escalation.preserve_until = preservation_deadline(now)
        escalation.failure_reason, escalation.failure_details = "", []
        try:
            # Two supervisors entering one report id at the same moment: one wins.
            with transaction.atomic():
                _save(
                    escalation,
                    "status",
                    "report_id",
                    "submitted_via",
                    "submitted_at",
                    "submitted_by",
                    "preserve_until",
                    "failure_reason",
                    "failure_details",
                )
        except IntegrityError:
            raise ValidationError(
                {"report_id": f"Report id {report_id} is already recorded on another escalation."}
            ) from None
        audit_record(
            verb="escalation.submitted",
            obj=escalation,
            actor=user,
            actor_label=actor_label,
            before={"status": before},
            after={
                "status": S.SUBMITTED,
                "report_id": report_id,
                "via": via,
                "packet_sha256": escalation.packet_sha256,
                "preserve_until": escalation.preserve_until.isoformat(),
            },
        )
    return escalation


def escalation_mark_acknowledged(
    *, escalation_id: int, user=None, actor_label: str = ""
) -> Escalation:
    """The authority confirmed it received the report."""
    with transaction.atomic(durable=True):
        escalation = _locked(escalation_id)
        _expect(escalation, S.SUBMITTED, doing="marked acknowledged")
        escalation.status, escalation.acknowledged_at = S.ACKNOWLEDGED, timezone.now()
        _save(escalation, "status", "acknowledged_at")
        audit_record(
            verb="escalation.acknowledged",
            obj=escalation,
            actor=user,
            actor_label=actor_label,
            before={"status": S.SUBMITTED},
            after={"status": S.ACKNOWLEDGED},
        )
    return escalation
