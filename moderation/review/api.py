"""Review API: queues, cases, claiming and deciding (see SPEC.md, "Public contract")."""

from datetime import datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Field, Router, Schema, Status
from pydantic import AfterValidator

from accounts import roles
from lib.api import ERRORS, ApiError, require_scope
from lib.http import client_ip
from lib.text import is_storable, storable_text
from moderation.cases import services as case_services
from moderation.cases.models import Case, Queue
from moderation.decisions.models import Decision
from moderation.decisions.rules import POLICIES
from moderation.review import selectors, services
from moderation.review.access import api_reviewer, api_visible_case

router = Router(tags=["review"])

ActionName = Literal[tuple(Decision.Action.values)]  # type: ignore[valid-type]
PolicyName = Literal[tuple(code for code, _ in POLICIES)]  # type: ignore[valid-type]
IntentName = Literal[("",) + tuple(Decision.Intent.values)]  # type: ignore[valid-type]
ClassificationName = Literal[("",) + tuple(Decision.Classification.values)]  # type: ignore[valid-type]
TargetName = Literal[("",) + tuple(Decision.Target.values)]  # type: ignore[valid-type]


class QueueOut(Schema):
    slug: str
    name: str
    open_count: int
    claimed_count: int
    oldest_waiting: datetime | None
    sla_minutes: int


class PriorityPart(Schema):
    label: str
    points: int


class MediaOut(Schema):
    id: int
    mime: str
    size: int
    width: int | None
    height: int | None
    sha256: str
    md5: str
    pdq: str
    pdq_quality: int | None
    phash: str
    dhash: str
    hashed: bool


class DecisionOut(Schema):
    id: int
    action: str
    policy: str
    intent: str
    classification: str
    safety_notice: bool
    # Set when Vigil sent the case to senior review instead of recording the action asked for
    # (a known-material match or an A1-B2 classification on the case): what was asked, and why.
    proposed_action: str
    referral_reason: str
    # On a conversation: what the decision was about ("" the whole of it, "message", "account")
    # and which (the message's platform id, the participant's account id).
    target: str
    target_ref: str
    reviewer: str
    created_at: datetime


class ClusterCaseOut(Schema):
    id: int
    status: str
    decision: str | None


class ClusterOut(Schema):
    other_cases: int
    recent: list[ClusterCaseOut]


class CaseOut(Schema):
    id: int
    status: str
    queue: str
    category: str
    involves_child: bool
    priority: int
    priority_breakdown: list[PriorityPart]
    reports_count: int
    reporters_count: int
    flags_count: int
    assignee: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    media: list[MediaOut]
    decisions: list[DecisionOut]
    # Other cases sharing near-duplicate media (staff only).
    cluster: ClusterOut | None
    # What the case looks like now; send it back as `seen` with a decision so that a decision on
    # a case that changed since (a report, flag or bank match arrived) is refused, not recorded.
    version: str


class ClaimOut(Schema):
    case: CaseOut
    lease_expires_at: datetime


class DecisionIn(Schema):
    action: ActionName
    policy: PolicyName
    intent: IntentName = ""
    classification: ClassificationName = ""
    notes: Annotated[str, AfterValidator(storable_text)] = Field("", max_length=5000)
    safety_notice: bool = Field(
        False,
        description="Also send the owner a safety notice (added to a finding, never alone on a "
        "CSAM finding).",
    )
    # The case's `version` when the caller looked at it (optional): refused with 409
    # case_changed if the case has changed since.
    seen: str = Field(
        "",
        max_length=200,
        description="The case's `version` when you looked at it; a decision on a case that has "
        "changed since is refused with 409 case_changed.",
    )
    target: TargetName = Field(
        "",
        description='On a conversation case, what the decision is about: "" (the whole '
        'conversation), "message" or "account" (a participant\'s). A decision about one '
        "message removes that message and acts on its sender; one about an account acts on that "
        "account and removes nothing.",
    )
    target_ref: Annotated[str, AfterValidator(storable_text)] = Field(
        "",
        max_length=255,
        description="With `target`: the message's platform id, or the participant's account id; "
        "one not in the conversation is refused with 422.",
    )


def _cluster_out(case: Case) -> dict | None:
    total, others = selectors.cluster_cases(case)
    if not total:
        return None
    return {
        "other_cases": total,
        "recent": [
            {
                "id": o.pk,
                "status": o.status,
                "decision": next((d.action for d in o.decisions.all()), None),
            }
            for o in others
        ],
    }


def _case_out(case: Case, *, staff: bool = True) -> dict:
    """The case as the caller may see it: platform accounts get no reviewer identities and no
    other cases."""
    return {
        "cluster": _cluster_out(case) if staff else None,
        "id": case.pk,
        "status": case.status,
        "queue": case.queue.slug,
        "category": case.category,
        "involves_child": case.involves_child,
        "priority": case.priority,
        "priority_breakdown": case.priority_breakdown,
        "reports_count": case.reports_count,
        "reporters_count": case.reporters_count,
        "flags_count": case.flags_count,
        "assignee": case.assignee.get_username() if staff and case.assignee else None,
        "lease_expires_at": case.lease_expires_at,
        "created_at": case.created_at,
        "version": services.case_version(case),
        "media": [
            {
                "id": m.pk,
                "mime": m.mime,
                "size": m.size,
                "width": m.width,
                "height": m.height,
                "sha256": m.sha256,
                "md5": m.md5,
                "pdq": m.pdq,
                "pdq_quality": m.pdq_quality,
                "phash": m.phash,
                "dhash": m.dhash,
                "hashed": m.hashed_at is not None,
            }
            for m in selectors.case_media(case)
        ],
        "decisions": [_decision_out(d, staff=staff) for d in case.decisions.all()],
    }


@router.get("/queues", response={200: list[QueueOut], **ERRORS})
def list_queues(request):
    """The queues the caller may work, with open counts."""
    principal = require_scope(request, "read")
    return Status(200, list(selectors.dashboard_queues(principal.user)))


@router.get("/cases/{case_id}", response={200: CaseOut, **ERRORS})
def get_case(request, case_id: int):
    case = api_visible_case(request, case_id)
    if selectors.held_rereview(request.auth.user, case) is not None:
        raise ApiError(
            403,
            "blind_rereview",
            "You are re-reviewing this case blind: its decisions are hidden until you record "
            "yours on the re-review page.",
        )
    return Status(200, _case_out(case, staff=request.auth.user.has_perm(roles.REVIEW)))


@router.post(
    "/queues/{slug}/claim",
    response={200: ClaimOut, 204: None, **ERRORS},
)
def claim(request, slug: str):
    """Claim the highest-priority claimable case in the queue (204 when there is none)."""
    principal = api_reviewer(request)
    queue = Queue.objects.filter(slug=slug, is_active=True).first() if is_storable(slug) else None
    if queue is None:
        raise ApiError(404, "not_found", f"No active queue {slug!r}.")
    case = case_services.case_claim_next(user=principal.user, queue=queue, ip=client_ip(request))
    if case is None:
        return Status(204, None)
    case = selectors.case_for_review(case.pk)
    return Status(200, {"case": _case_out(case), "lease_expires_at": case.lease_expires_at})


@router.post(
    "/cases/{case_id}/decision",
    response={201: DecisionOut, **ERRORS},
)
def decide(request, case_id: int, payload: DecisionIn):
    principal = api_reviewer(request)
    case = api_visible_case(request, case_id)
    try:
        decision = services.case_decide(
            case_id=case.pk,
            user=principal.user,
            ip=client_ip(request),
            **payload.dict(),
        )
    except case_services.OwnDecisionAppealed as e:
        raise ApiError(403, "own_decision_appealed", str(e)) from None
    except case_services.CaseNotHeld as e:
        raise ApiError(409, "case_not_held", str(e)) from None
    except services.CaseChanged as e:
        raise ApiError(409, "case_changed", str(e)) from None
    except ValidationError as e:
        raise ApiError(422, "invalid_decision", e.message_dict) from None
    return Status(201, _decision_out(decision, staff=True))


def _decision_out(decision: Decision, *, staff: bool) -> dict:
    return {
        "id": decision.pk,
        "action": decision.action,
        "policy": decision.policy,
        "intent": decision.intent,
        "classification": decision.classification,
        "safety_notice": decision.safety_notice,
        "proposed_action": decision.proposed_action,
        "referral_reason": decision.referral_reason if staff else "",
        "target": decision.target,
        "target_ref": decision.target_ref,
        "reviewer": decision.reviewer.get_username() if staff else "",
        "created_at": decision.created_at,
    }
