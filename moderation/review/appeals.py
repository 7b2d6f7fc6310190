"""Appeals by the content's owner: opened through the platform API, decided in the appeals queue
by someone other than the reviewers behind the contested decision."""

from django.db import transaction
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.cases.models import Case, Queue
from moderation.cases.rollup import case_refresh_priority
from moderation.decisions.models import Appeal, Decision
from moderation.decisions.rules import action_severity
from moderation.enforcement.delivery import reverse_in_transaction
from reports.models import ContentItem


class AppealRefused(Exception):
    """The appeal cannot be filed; `status` and `code` say why, for the API."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def appeals_queue() -> Queue | None:
    return Queue.objects.filter(for_appeals=True, is_active=True).order_by("order", "pk").first()


def appeal_open(
    *, content_id: str, statement: str, submitted_by=None, actor_label: str
) -> tuple[Appeal, bool]:
    """File the owner's appeal against the last decision on their content, reopening its case in
    the appeals queue. Returns (appeal, created): an appeal already open is returned as it is, so
    the platform may safely send the same appeal again. Raises AppealRefused."""

    # The same lookup as intake's: the first item the platform's id names.
    item = ContentItem.objects.filter(platform_id=content_id).order_by("pk").first()
    if item is None:
        raise AppealRefused(404, "not_found", f"No content {content_id!r} was reported to Vigil.")
    with transaction.atomic(durable=True):
        # Every case of the item, locked in the same order as intake's roll-up, so an appeal and
        # a report arriving together queue up instead of both reopening the case.
        cases = list(
            Case.objects.select_for_update().filter(content_item=item).order_by("-created_at")
        )
        existing = Appeal.objects.filter(case__in=cases, status=Appeal.Status.OPEN).first()
        if existing is not None:
            return existing, False
        if not cases:
            raise AppealRefused(409, "nothing_to_appeal", "Nothing has been decided on it.")
        case = cases[0]
        if case.status == Case.Status.OPEN:
            raise AppealRefused(
                409,
                "under_review",
                "The content is being reviewed right now; an appeal can follow the decision.",
            )
        decision = _appealable_decision(case)
        queue = appeals_queue()
        if queue is None:
            raise AppealRefused(
                409, "no_appeals_queue", "No appeals queue is active; ask Vigil's administrators."
            )
        now = timezone.now()
        appeal = Appeal.objects.create(
            case=case,
            decision=decision,
            statement=statement,
            submitted_by=submitted_by,
            created_at=now,
        )
        before = {"status": case.status, "queue": case.queue.slug}
        case.status = Case.Status.OPEN
        case.decided_at = None
        case.queue = queue
        case.waiting_since = now
        case_refresh_priority(case=case, now=now)
        audit_record(
            verb="appeal.opened",
            obj=appeal,
            case=case,
            actor=submitted_by,
            actor_label=actor_label,
            after={"decision": decision.pk, "action": decision.action},
        )
        audit_record(
            verb="case.reopened",
            obj=case,
            case=case,
            actor=submitted_by,
            actor_label=actor_label,
            before=before,
            after={"status": "open", "queue": queue.slug, "reasons": [f"appeal {appeal.pk}"]},
        )
    return appeal, True


def _appealable_decision(case: Case) -> Decision:
    decision = (
        case.decisions.exclude(action=Decision.Action.SENIOR_REVIEW)
        .select_related("appeal", "settled_appeal")
        .order_by("-created_at", "-pk")
        .first()
    )
    if decision is None:
        raise AppealRefused(409, "nothing_to_appeal", "Nothing has been decided on it.")
    if decision.action == Decision.Action.NO_VIOLATION:
        raise AppealRefused(
            409, "nothing_to_appeal", "The last decision found no violation: nothing to appeal."
        )
    if hasattr(decision, "appeal") or hasattr(decision, "settled_appeal"):
        raise AppealRefused(
            409,
            "already_appealed",
            "The last decision on this content was already reviewed on appeal; it is final.",
        )
    return decision


def appeal_outcome(*, contested: str, outcome: str) -> str:
    """What an appeal's decision did to the contested one, as the appeal's status."""
    if outcome == contested:
        return Appeal.Status.UPHELD
    if outcome == Decision.Action.NO_VIOLATION:
        return Appeal.Status.OVERTURNED
    if action_severity(outcome) > action_severity(contested):
        return Appeal.Status.STRICTER
    return Appeal.Status.MILDER


@in_transaction
def appeal_settle(*, case: Case, decision: Decision, user, now) -> Appeal | None:
    """Settle the case's open appeal with the decision just recorded on it (the same action
    upholds the contested decision; no violation overturns it; any other changes it to a stricter
    or milder action, appeal_outcome). Call inside record_decision's
    transaction; the caller reverses what an overturned decision asked. None when there is no
    open appeal, or the decision only sends the case to senior review."""
    if decision.action == Decision.Action.SENIOR_REVIEW:
        return None
    appeal = (
        Appeal.objects.select_for_update()
        .select_related("decision")
        .filter(case=case, status=Appeal.Status.OPEN)
        .first()
    )
    if appeal is None:
        return None
    appeal.status = appeal_outcome(contested=appeal.decision.action, outcome=decision.action)
    appeal.outcome = decision
    appeal.decided_by = user
    appeal.decided_at = now
    appeal.save(update_fields=["status", "outcome", "decided_by", "decided_at"])
    audit_record(
        verb="appeal.decided",
        obj=appeal,
        case=case,
        actor=user,
        before={"status": "open", "action": appeal.decision.action},
        after={"status": appeal.status, "action": decision.action, "decision": decision.pk},
    )
    return appeal


@in_transaction
def action_reverse_for(*, action, user, reason: str, source: str = "review") -> None:
    """Reverse an enforcement action: recorded, audited, and the platform told to undo it
    (moderation/enforcement/delivery.py). Call inside a transaction."""

    reverse_in_transaction(action=action, user=user, reason=reason, source=source)
