"""Escalations API: where each report to an authority stands, with the assembly's progress.

Escalations name reported accounts and lead to evidence, so only senior reviewers, supervisors and
admins see them through the API (their own tokens or the console's session), never the platform's
integration account.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied
from ninja import Query, Router, Schema, Status
from pydantic import Field

from accounts import roles
from lib.api import ERRORS, ApiError, require_scope
from lib.http import client_ip
from moderation.escalations import custody, selectors
from moderation.escalations.access import api_escalations_caller, get_api_escalation
from moderation.escalations.models import Escalation

router = Router(tags=["escalations"])

MAX_PAGE = 200


class ProgressOut(Schema):
    done: int
    total: int
    percent: int
    step: str


class FailureOut(Schema):
    reason: str
    details: list


class PacketOut(Schema):
    sha256: str
    size: int
    assembled_at: datetime | None
    files: int


class PreservationOut(Schema):
    preserve_until: datetime | None
    legal_hold: bool
    legal_hold_until: datetime | None
    evidence_deleted_at: datetime | None


class SubmissionOut(Schema):
    in_progress: bool = Field(description="An API submission to the authority is running.")
    started_at: datetime | None
    attempts: int = Field(description="Requests made to the authority's API, all runs.")


class EscalationOut(Schema):
    id: int
    authority: str
    status: str
    urgent: bool
    owner_id: str
    incident_type: str
    annotations: list[str]
    case_ids: list[int]
    created_at: datetime
    updated_at: datetime
    approval_requested_at: datetime | None
    approved_at: datetime | None
    progress: ProgressOut
    failure: FailureOut | None
    packet: PacketOut | None
    report_id: int | None
    submitted_via: str
    submitted_at: datetime | None
    acknowledged_at: datetime | None
    submission: SubmissionOut
    preservation: PreservationOut


class EscalationPage(Schema):
    results: list[EscalationOut]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class ListParams(Schema):
    status: Escalation.Status | None = None
    cursor: int | None = Field(None, ge=1, description="The `next` value of the previous page.")
    limit: int = Field(50, ge=1, le=MAX_PAGE)


def escalation_out(escalation: Escalation, case_ids: list[int]) -> dict:
    failed = escalation.status == Escalation.Status.FAILED
    return {
        "id": escalation.pk,
        "authority": escalation.authority,
        "status": escalation.status,
        "urgent": escalation.urgent,
        "owner_id": escalation.owner_id,
        "incident_type": escalation.incident_type,
        "annotations": escalation.annotations,
        "case_ids": case_ids,
        "created_at": escalation.created_at,
        "updated_at": escalation.updated_at,
        "approval_requested_at": escalation.approval_requested_at,
        "approved_at": escalation.approved_at,
        "progress": {
            "done": escalation.progress_done,
            "total": escalation.progress_total,
            "percent": escalation.progress_percent,
            "step": escalation.progress_step,
        },
        "failure": {"reason": escalation.failure_reason, "details": escalation.failure_details}
        if failed
        else None,
        "packet": {
            "sha256": escalation.packet_sha256,
            "size": escalation.packet_size,
            "assembled_at": escalation.assembled_at,
            "files": len(escalation.manifest or {}),
        }
        if escalation.packet_sha256
        else None,
        "report_id": escalation.report_id,
        "submitted_via": escalation.submitted_via,
        "submitted_at": escalation.submitted_at,
        "acknowledged_at": escalation.acknowledged_at,
        "submission": {
            "in_progress": escalation.submission_started_at is not None,
            "started_at": escalation.submission_started_at,
            "attempts": escalation.attempts,
        },
        "preservation": {
            "preserve_until": escalation.preserve_until,
            "legal_hold": escalation.legal_hold,
            "legal_hold_until": escalation.legal_hold_until,
            "evidence_deleted_at": escalation.evidence_deleted_at,
        },
    }


@router.get(
    "/escalations",
    response={200: EscalationPage, **ERRORS},
    summary="Escalations to authorities, newest first",
)
def list_escalations(request, params: Query[ListParams]):
    """Needs the `read` scope on a senior reviewer's, supervisor's or admin's token. Filter with
    `?status=` (draft, awaiting_approval, assembling, ready, submitted, acknowledged, failed,
    withdrawn). Pages of `limit` (default 50, at most 200), newest first; follow `next`."""
    api_escalations_caller(request)
    rows, more = selectors.escalations_page(
        status=params.status, before=params.cursor, limit=params.limit
    )
    case_ids = selectors.escalations_case_ids([e.pk for e in rows])
    return Status(
        200,
        {
            "results": [escalation_out(e, case_ids[e.pk]) for e in rows],
            "next": str(rows[-1].pk) if more else None,
        },
    )


@router.get(
    "/escalations/{escalation_id}",
    response={200: EscalationOut, **ERRORS},
    summary="One escalation: status, assembly progress, packet hash, submission, preservation",
)
def get_escalation(request, escalation_id: int):
    """Needs the `read` scope on a senior reviewer's, supervisor's or admin's token. Poll it while
    `status` is `assembling`: `progress` moves as the packet is built. `packet.sha256` is the
    packet's chain-of-custody hash once it is ready; `failure` says why it failed."""
    escalation = get_api_escalation(request, escalation_id)
    return Status(
        200,
        escalation_out(escalation, selectors.escalations_case_ids([escalation.pk])[escalation.pk]),
    )


PACKET_RESPONSE = {
    200: {
        "description": "The packet zip, streamed. `X-Packet-SHA256` carries the SHA-256 recorded "
        "at assembly: check the bytes you received against it.",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/escalations/{escalation_id}/packet",
    response=ERRORS,
    summary="Download the assembled packet (zip); supervisors only, every download audited",
    openapi_extra={"responses": PACKET_RESPONSE},
)
def get_packet(request, escalation_id: int):
    """Needs the `read` scope on a supervisor's or admin's token. 409 when there is no packet
    (not assembled yet: `no_packet`; deleted when its preservation ended: `evidence_deleted`; the
    stored file is not the one assembled: `packet_damaged`). Each download is audited with the
    token, the caller's address and the packet's SHA-256."""
    principal = require_scope(request, "read")
    if not principal.user.has_perm(roles.SUPERVISE):
        raise ApiError(403, "forbidden", "Packets may be downloaded by supervisors only.")
    try:
        escalation, handle = custody.escalation_packet_download(
            escalation_id=escalation_id,
            user=principal.user,
            ip=client_ip(request),
            via="api",
            actor_label=principal.label,
        )
    except Escalation.DoesNotExist:
        raise ApiError(404, "not_found", f"No escalation {escalation_id}.") from None
    except PermissionDenied:
        raise ApiError(
            403, "forbidden", "This packet is preserved evidence: your role may not access it."
        ) from None
    except custody.PacketUnavailable as e:
        raise ApiError(409, e.code, e.detail) from None
    return custody.packet_response(escalation, handle)
