"""Appeals API: the platform forwards its user's appeal against a decision on their content."""

from datetime import datetime

from django.conf import settings
from ninja import Router, Schema, Status

from lib.api import ERRORS, ApiError, Text, require_scope
from moderation.decisions.models import Appeal
from moderation.review.appeals import AppealRefused, appeal_open

router = Router(tags=["appeals"])


class AppealIn(Schema):
    content_id: Text(255, 1, description="The platform's id for the content.")
    statement: Text(
        settings.MAX_TEXT_LENGTH, 1, description="The owner's own words: why the decision is wrong."
    )


class AppealOut(Schema):
    appeal_id: int
    case_id: int
    status: str
    decided_at: datetime | None = None


@router.post(
    "/appeals",
    response={200: AppealOut, 201: AppealOut, **ERRORS},
    summary="Forward the content owner's appeal against the last decision on it",
)
def post_appeal(request, payload: AppealIn):
    """Needs the `report` scope (the platform forwards what its users send). Reopens the case in
    the appeals queue, where a reviewer other than the original one decides it. 201 when filed;
    200 with the same ids when this content already has an open appeal (safe to retry); 404 for
    content Vigil never received; 409 when there is nothing to appeal (nothing decided, no
    violation found, still under review, or already decided on appeal)."""
    principal = require_scope(request, "report")
    try:
        appeal, created = appeal_open(
            content_id=payload.content_id,
            statement=payload.statement,
            submitted_by=principal.user,
            actor_label=principal.label,
        )
    except AppealRefused as e:
        raise ApiError(e.status, e.code, e.detail) from None
    return Status(201 if created else 200, _appeal_out(appeal))


def _appeal_out(appeal: Appeal) -> dict:
    return {
        "appeal_id": appeal.pk,
        "case_id": appeal.case_id,
        "status": appeal.status,
        "decided_at": appeal.decided_at,
    }


@router.get(
    "/appeals/{appeal_id}",
    response={200: AppealOut, **ERRORS},
    summary="How an appeal the caller filed stands",
)
def get_appeal(request, appeal_id: int):
    """Needs the `report` scope. `status` is open, upheld (the decision stands),
    overturned (no violation: its actions are reversed at the platform through the usual
    webhooks), milder (changed to a milder action: what it no longer asks is reversed) or stricter
    (changed to a stricter action: the actions stand and more are asked). Only the account that
    filed an appeal sees it: any other id answers 404."""
    principal = require_scope(request, "report")
    appeal = Appeal.objects.filter(pk=appeal_id, submitted_by=principal.user).first()
    if appeal is None:
        raise ApiError(404, "not_found", f"No appeal {appeal_id}.")
    return Status(200, _appeal_out(appeal))
