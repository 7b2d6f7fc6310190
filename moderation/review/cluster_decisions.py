"""One decision for a whole cluster of near-duplicates, after the reviewer confirms the list."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from moderation.cases.models import Case
from moderation.cases.services import SKIP_MEMORY, claimable_queue_ids, lock_held_case
from moderation.review import guard
from moderation.review.services import decision_errors, record_decision
from reports.models import Media


class ClusterChanged(Exception):
    """The cases the decision would cover are not the ones the reviewer confirmed."""


def cluster_open_cases(*, case: Case, user) -> list[Case]:
    """Other open cases sharing near-duplicate media with `case` that this reviewer may decide:
    in a queue they work, and not held by someone else."""

    clusters = list(
        Media.objects.filter(Q(report__case=case) | Q(flag__case=case))
        .exclude(cluster__isnull=True)
        .values_list("cluster_id", flat=True)
        .distinct()
    )
    if not clusters:
        return []
    now = timezone.now()
    return list(
        Case.objects.claimable(now)
        .filter(
            Q(reports__media__cluster_id__in=clusters) | Q(flags__media__cluster_id__in=clusters)
        )
        .filter(queue_id__in=claimable_queue_ids(user, now))
        .exclude(pk=case.pk)
        # An appeal is decided on its own, by someone other than its original reviewers.
        .exclude(appeals__status="open")
        .exclude(skips__user=user, skips__skipped_at__gt=now - SKIP_MEMORY)
        .select_related("queue", "content_item")
        .distinct()
        .order_by("pk")
    )


def cluster_decide(
    *,
    case_id: int,
    user,
    confirmed_case_ids: set[int],
    action: str,
    policy: str,
    intent: str = "",
    classification: str = "",
    notes: str = "",
    safety_notice: bool = False,
    ip: str | None = None,
) -> list[int]:
    """Decide the held case and every open case of its cluster the reviewer confirmed, in one
    transaction. Refuses (ClusterChanged) if the cluster's open cases are no longer exactly the
    confirmed ones, and (ValidationError) if the decision does not fit every case or one of them
    carries a child-safety signal this reviewer may not close with it (guard.py: that case is
    referred on its own, with its reason, not swept along)."""
    with transaction.atomic(durable=True):
        case = lock_held_case(case_id=case_id, user=user)
        others = cluster_open_cases(case=case, user=user)
        if {c.pk for c in others} != set(confirmed_case_ids):
            raise ClusterChanged(
                "The cluster changed since you confirmed it. Nothing was recorded: look at the "
                "list again."
            )
        locked = list(Case.objects.select_for_update().filter(pk__in=[c.pk for c in others]))
        for target in [case, *locked]:
            errors = decision_errors(
                case=target,
                action=action,
                intent=intent,
                classification=classification,
                notes=notes,
                safety_notice=safety_notice,
            )
            if errors:
                raise ValidationError({k: f"Case {target.pk}: {v}" for k, v in errors.items()})
            if reason := guard.referral_reason(case=target, user=user, action=action):
                raise ValidationError(
                    {
                        "action": f"Case {target.pk}: {reason} Decide it on its own, not as a cluster."
                    }
                )
        now = timezone.now()
        fields = dict(
            user=user,
            action=action,
            policy=policy,
            intent=intent,
            classification=classification,
            notes=notes,
            safety_notice=safety_notice,
            now=now,
            ip=ip,
        )
        record_decision(case=case, **fields)
        for other in locked:
            if other.status != Case.Status.OPEN or (
                other.assignee_id not in (None, user.pk) and other.lease_is_live(now)
            ):
                raise ClusterChanged(
                    f"Case {other.pk} changed hands while you decided. Nothing was recorded."
                )
            record_decision(case=other, via_case=case.pk, **fields)
        return [case.pk, *[c.pk for c in locked]]
