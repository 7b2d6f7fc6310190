"""Blind re-review: a share of decisions is decided again by another certified reviewer who does
not see the first decision; a supervisor settles disagreements."""

import random
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import roles
from accounts.models import User
from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.cases.models import Case
from moderation.cases.services import SKIP_MEMORY, _lease_until, claimable_queue_ids
from moderation.decisions.models import Decision, QualitySettings, ReReview
from moderation.decisions.rules import decision_requirements, finding_errors, missing_fields
from moderation.review.actions import supersede_actions


class ReReviewNotHeld(Exception):
    """The reviewer does not hold this re-review (it lapsed, or was already recorded)."""


def rereview_sample(*, decision: Decision, draw: Callable[[], float] = random.random):
    """Put the decision up for blind re-review with the configured probability. `draw` returns a
    number in [0, 1); tests pass a seeded or fixed one. Call inside the decision's transaction."""
    if not settings.REREVIEW_SAMPLING:
        return None
    share = QualitySettings.current().rereview_share
    if share <= 0 or draw() >= float(share):
        return None
    return rereview_open(decision=decision, why=f"sampled at {share}")


@in_transaction
def rereview_open(
    *, decision: Decision, why: str, actor_label: str = "sampling", actor=None
) -> ReReview:
    """Put a decision up for blind re-review. Call inside a transaction."""
    task = ReReview.objects.create(decision=decision, case=decision.case, queue=decision.case.queue)
    audit_record(
        verb="rereview.sampled",
        obj=task,
        case=decision.case,
        actor=actor,
        actor_label="" if actor is not None else actor_label,
        after={"decision": decision.pk, "why": why},
    )
    return task


MAX_ASSIGNED = 50
MAX_ASSIGN_DAYS = 90


def rereview_candidates(reviewer, since):
    """The reviewer's decisions since `since` that a re-review can still second-guess: a final
    decision (not a referral), not re-reviewed yet, and still the case's last word (the case is
    decided and nobody decided it again since, on appeal or otherwise). Its case is then still in
    the queue it was decided in, which is the re-review's queue."""
    later = Decision.objects.filter(case=OuterRef("case"), created_at__gt=OuterRef("created_at"))
    return (
        Decision.objects.filter(
            reviewer=reviewer, created_at__gte=since, case__status=Case.Status.DECIDED
        )
        .exclude(action=Decision.Action.SENIOR_REVIEW)
        .exclude(Exists(ReReview.objects.filter(decision=OuterRef("pk"))))
        .exclude(Exists(later))
    )


def rereview_assign_sample(
    *,
    reviewer,
    by,
    count: int,
    days: int,
    ip: str | None = None,
    rng: random.Random | None = None,
) -> list[ReReview]:
    """A supervisor sends `count` of the reviewer's recent decisions (the last `days` days),
    drawn at random, to blind re-review. Fewer when fewer are eligible; a ValidationError when
    none is. `rng` is for tests."""

    if not by.has_perm(roles.SUPERVISE):
        raise PermissionDenied("Only a supervisor can assign re-reviews.")
    if not 1 <= count <= MAX_ASSIGNED:
        raise ValidationError({"count": f"Choose between 1 and {MAX_ASSIGNED} decisions."})
    if not 1 <= days <= MAX_ASSIGN_DAYS:
        raise ValidationError({"days": f"Choose between 1 and {MAX_ASSIGN_DAYS} days."})
    since = timezone.now() - timedelta(days=days)
    with transaction.atomic(durable=True):
        # Two supervisors assigning at once must not both pick the same decision.
        User.objects.select_for_update().filter(pk=reviewer.pk).first()
        ids = list(rereview_candidates(reviewer, since).values_list("pk", flat=True))
        if not ids:
            raise ValidationError(
                {
                    "count": f"None of {reviewer.get_username()}'s decisions in the last {days} "
                    "days can be re-reviewed (none, or all already re-reviewed or decided again)."
                }
            )
        picked = sorted((rng or random).sample(ids, min(count, len(ids))))
        why = f"assigned by {by.get_username()}: {len(picked)} of the last {days} days"
        tasks = [
            rereview_open(decision=decision, why=why, actor=by)
            for decision in Decision.objects.filter(pk__in=picked)
            .select_related("case__queue")
            .order_by("pk")
        ]
        audit_record(
            verb="rereview.assigned",
            obj=reviewer,
            actor=by,
            after={
                "reviewer": reviewer.get_username(),
                "asked": count,
                "days": days,
                "decisions": picked,
            },
            ip=ip,
        )
    return tasks


def rereviews_claimable(user, now=None, queue_ids: list[int] | None = None):
    """Re-reviews the user may take: in a queue they are certified for (`queue_ids` when the
    caller already knows them), nobody holding them, on cases the user never decided (so never
    their own decision)."""

    now = now or timezone.now()
    if queue_ids is None:
        queue_ids = claimable_queue_ids(user, now)
    return (
        ReReview.objects.filter(status=ReReview.Status.OPEN, queue_id__in=queue_ids)
        .filter(Q(assignee__isnull=True) | Q(lease_expires_at__lte=now))
        .exclude(released_by=user, released_at__gt=now - SKIP_MEMORY)
        .exclude(Exists(Decision.objects.filter(case=OuterRef("case"), reviewer=user)))
    )


def rereview_claim_next(*, user, ip: str | None = None) -> ReReview | None:
    """Hand the reviewer the oldest re-review they may take, under a lease like a case's. SKIP
    LOCKED lets concurrent reviewers pass over a task another is taking: never one task to two."""

    now = timezone.now()
    with transaction.atomic(durable=True):
        # One claim at a time per reviewer, as for cases.
        User.objects.select_for_update().filter(pk=user.pk).first()
        held = ReReview.objects.filter(
            assignee=user, status=ReReview.Status.OPEN, lease_expires_at__gt=now
        ).first()
        if held is not None:
            return held
        task = (
            rereviews_claimable(user, now)
            .order_by("created_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if task is None:
            return None
        task.assignee = user
        task.lease_expires_at = _lease_until(now)
        task.save(update_fields=["assignee", "lease_expires_at"])
        audit_record(
            verb="rereview.claimed",
            obj=task,
            case=task.case,
            actor=user,
            after={"assignee": user.get_username()},
            ip=ip,
        )
    return task


def rereview_release(*, task_id: int, user, ip: str | None = None) -> None:
    """Hand a held re-review back unrecorded; another reviewer takes it."""
    with transaction.atomic(durable=True):
        task = ReReview.objects.select_for_update().get(pk=task_id)
        if task.status != ReReview.Status.OPEN or task.assignee_id != user.pk:
            raise ReReviewNotHeld("You are not holding this re-review: nothing to hand back.")
        task.assignee = None
        task.lease_expires_at = None
        task.released_by = user
        task.released_at = timezone.now()
        task.save(update_fields=["assignee", "lease_expires_at", "released_by", "released_at"])
        audit_record(
            verb="rereview.released",
            obj=task,
            case=task.case,
            actor=user,
            before={"assignee": user.get_username()},
            after={"assignee": None},
            ip=ip,
        )


def rereview_record(
    *,
    task_id: int,
    user,
    action: str,
    policy: str,
    intent: str = "",
    classification: str = "",
    notes: str = "",
    ip: str | None = None,
) -> ReReview:
    """Record the re-reviewer's own decision and compare it with the original's action; a
    disagreement waits for a supervisor. Nothing reaches the platform from a re-review."""
    with transaction.atomic(durable=True):
        task = (
            ReReview.objects.select_for_update().select_related("decision", "case").get(pk=task_id)
        )
        if task.status != ReReview.Status.OPEN:
            raise ReReviewNotHeld("This re-review was already recorded. Nothing was changed.")
        if task.assignee_id != user.pk:
            raise ReReviewNotHeld(
                "This re-review is no longer yours: your hold on it lapsed. Nothing was recorded."
            )
        errors = _errors(
            task=task, action=action, intent=intent, classification=classification, notes=notes
        )
        if errors:
            raise ValidationError(errors)
        now = timezone.now()
        task.action, task.policy, task.notes = action, policy, notes
        task.intent, task.classification = intent, classification
        task.reviewed_at = now
        task.reviewed_by = user
        agrees = action == task.decision.action
        task.status = ReReview.Status.AGREED if agrees else ReReview.Status.DISAGREED
        task.assignee = None
        task.lease_expires_at = None
        task.save()
        audit_record(
            verb="rereview.recorded",
            obj=task,
            case=task.case,
            actor=user,
            after={
                "status": task.status,
                "action": action,
                "policy": policy,
                "original_action": task.decision.action,
            },
            ip=ip,
        )
    return task


def _errors(*, task, action: str, intent: str, classification: str, notes: str) -> dict:
    errors = finding_errors(action=action, classification=classification)
    if action == Decision.Action.SENIOR_REVIEW:
        errors["action"] = "A re-review records a decision of its own, not a referral."
    # The same requirements as the decision it second-guesses: its category and its queue.
    required = decision_requirements(category=task.case.category, action=action, queue=task.queue)
    missing = missing_fields(required, intent=intent, classification=classification, notes=notes)
    return {**missing, **errors}


def rereview_resolve(
    *, task_id: int, user, stands: str, note: str, ip: str | None = None
) -> ReReview:
    """A supervisor settles a disagreement. When the re-review's decision stands, it replaces
    the original on the case: recorded as the supervisor's decision, the original's actions
    reversed and the new ones requested. Refused (ValidationError) if the case has moved on
    since (reopened or decided again): then it is corrected through the case itself."""

    if stands not in ReReview.Stands.values:
        raise ValidationError({"stands": "Say which decision stands."})
    if not note.strip():
        raise ValidationError({"note": "Say why, for the reviewers and the audit log."})
    with transaction.atomic(durable=True):
        task = ReReview.objects.select_for_update().select_related("decision").get(pk=task_id)
        if task.status != ReReview.Status.DISAGREED:
            raise ValidationError(
                {"stands": "This re-review is not waiting for a supervisor (already resolved?)."}
            )
        case = Case.objects.select_for_update().select_related("content_item").get(pk=task.case_id)
        now = timezone.now()
        correction = None
        if stands == ReReview.Stands.REREVIEW:
            latest = (
                case.decisions.exclude(action=Decision.Action.SENIOR_REVIEW)
                .order_by("-created_at", "-pk")
                .first()
            )
            if case.status != Case.Status.DECIDED or latest != task.decision:
                raise ValidationError(
                    {
                        "stands": "The case has moved on since this decision (it was reopened "
                        "or decided again): correct it through the case itself."
                    }
                )
            # Later than the decision it corrects: the case's first_action_at stands.
            correction = Decision.objects.create(
                case=case,
                reviewer=user,
                action=task.action,
                policy=task.policy,
                intent=task.intent,
                classification=task.classification,
                notes=f"Re-review {task.pk} stands: {note}"[:5000],
                created_at=now,
            )
            supersede_actions(case=case, old=task.decision, new=correction, user=user)
        task.status = ReReview.Status.RESOLVED
        task.stands = stands
        task.resolution_note = note
        task.resolved_by = user
        task.resolved_at = now
        task.save()
        audit_record(
            verb="rereview.resolved",
            obj=task,
            case=case,
            actor=user,
            before={
                "status": "disagreed",
                "original_action": task.decision.action,
                "rereview_action": task.action,
            },
            after={
                "status": task.status,
                "stands": stands,
                "note": note[:500],
                **({"decision": correction.pk} if correction else {}),
            },
            ip=ip,
        )
    return task
