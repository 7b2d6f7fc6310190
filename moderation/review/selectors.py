"""Reads for the console. Each returns a bounded number of queries whatever the data size."""

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from accounts.models import QueueCertification
from moderation.banks.models import Match
from moderation.cases.models import Case, Queue
from moderation.cases.priority import hours_text
from moderation.cases.queue_stats import queue_counts
from moderation.cases.services import claimable_queue_ids
from moderation.decisions.models import Appeal, Decision, ReReview
from moderation.enforcement.selectors import case_actions_prefetch
from reports.models import Media, Report


def dashboard_queues(user):
    """The queues the user may work, with open counts, the oldest waiting case (shared counts, a
    few seconds old: see queue_stats) and how many are being reviewed right now (live).

    Three queries whatever the backlog: the queues, the live claims, and the shared counts when
    they are due for a refresh.
    """
    queues = list(Queue.objects.filter(pk__in=claimable_queue_ids(user)).order_by("order", "slug"))
    counts = queue_counts()
    claimed = dict(
        Case.objects.filter(
            status=Case.Status.OPEN,
            assignee__isnull=False,
            lease_expires_at__gt=timezone.now(),
            queue__in=queues,
        )
        .values("queue_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("queue_id", "n")
    )
    for queue in queues:
        queue.open_count = counts.open_count(queue.pk)
        queue.oldest_waiting = counts.oldest_waiting(queue.pk)
        queue.sla_breaches = counts.sla_breaches(queue.pk)
        queue.sla_text = hours_text(queue.sla_minutes)
        queue.claimed_count = claimed.get(queue.pk, 0)
        queue.counts_taken_at = counts.taken_at
    return queues


def case_for_review(case_id: int) -> Case:
    return (
        Case.objects.select_related("content_item", "queue", "assignee")
        .prefetch_related(
            Prefetch(
                "reports",
                queryset=Report.objects.select_related("reporter_identity").order_by("created_at"),
            ),
            Prefetch("flags"),
            Prefetch("decisions", queryset=Decision.objects.select_related("reviewer")),
            case_actions_prefetch(),
            "escalations",
        )
        .get(pk=case_id)
    )


def media_matches_prefetch() -> Prefetch:
    """A media file's bank matches as the case page shows them: each with its provenance (its
    entry's programme) and what suppressed it."""
    return Prefetch(
        "matches",
        queryset=Match.objects.select_related(
            "entry__bank",
            "entry__exchange",
            "entry__decision__reviewer",
            "suppressed_by__entry__bank",
        ).order_by("distance"),
    )


def case_media(case: Case, *, attachments: bool = True):
    """The case's files. `attachments=False` leaves out those attached to a conversation's
    messages: the case page shows them in the thread, a page of messages at a time
    (moderation/review/conversations.py), never all at once."""
    media = Media.objects.filter(Q(report__case=case) | Q(flag__case=case))
    if not attachments:
        media = media.filter(message__isnull=True)
    return (
        # A video's strip of stills (the case page offers them, or says they are being made).
        media.select_related("video_strip")
        .prefetch_related(media_matches_prefetch())
        .order_by("created_at")
    )


def case_fed_by(case: Case, user) -> bool:
    """Whether the platform account `user` sent any of the case's reports or flags."""
    return (
        case.reports.filter(submitted_by=user).exists()
        or case.flags.filter(submitted_by=user).exists()
    )


def cluster_cases(case: Case, limit: int = 20) -> tuple[int, list[Case]]:
    """How many other cases share a cluster with this case's media, and the most recent of them
    with their decisions."""
    clusters = [
        c
        for c in Media.objects.filter(Q(report__case=case) | Q(flag__case=case))
        .exclude(cluster__isnull=True)
        .values_list("cluster_id", flat=True)
        .distinct()
    ]
    if not clusters:
        return 0, []
    others = (
        Case.objects.filter(
            Q(reports__media__cluster_id__in=clusters) | Q(flags__media__cluster_id__in=clusters)
        )
        .exclude(pk=case.pk)
        .distinct()
    )
    total = others.count()
    shown = list(
        others.select_related("queue")
        .prefetch_related(
            Prefetch("decisions", queryset=Decision.objects.select_related("reviewer"))
        )
        .order_by("-created_at")[:limit]
    )
    return total, shown


def case_open_appeal(case: Case, user) -> tuple[Appeal | None, bool]:
    """The case's open appeal, and whether `user` took part in the decision it contests (then
    they may not decide it). Uses the case's prefetched decisions."""
    appeal = (
        Appeal.objects.filter(case=case, status=Appeal.Status.OPEN)
        .select_related("decision__reviewer")
        .first()
    )
    if appeal is None:
        return None, False
    involved = any(
        d.reviewer_id == user.pk and d.created_at <= appeal.decision.created_at
        for d in case.decisions.all()
    )
    return appeal, involved


def rereviews_disagreed():
    """Disagreements waiting for a supervisor, oldest first, with both decisions."""
    return (
        ReReview.objects.filter(status=ReReview.Status.DISAGREED)
        .select_related("decision__reviewer", "reviewed_by", "case", "queue")
        .order_by("reviewed_at", "pk")
    )


def rereviews_resolved(limit: int = 20):
    return list(
        ReReview.objects.filter(status=ReReview.Status.RESOLVED)
        .select_related("decision__reviewer", "reviewed_by", "resolved_by", "case")
        .order_by("-resolved_at", "-pk")[:limit]
    )


def held_rereview(user, case: Case) -> ReReview | None:
    """The open re-review of `case` that `user` holds, if any."""
    return ReReview.objects.filter(case=case, assignee=user, status=ReReview.Status.OPEN).first()


def blind_case_ids(user):
    """The cases `user` holds a blind re-review of (a subquery): their decisions, actions,
    escalations and appeals are kept from them everywhere, not only on the case page, or the
    re-review would not be blind."""
    return ReReview.objects.filter(assignee=user, status=ReReview.Status.OPEN).values("case_id")


def owner_history(case: Case, user, limit: int = 10) -> tuple[int, list[Decision]]:
    """Decisions on the owner's other content, newest first: how many, and the latest `limit`.
    Two queries whatever the owner's history; none when the owner is unknown. Leaves out the
    cases `user` is re-reviewing blind."""
    owner_id = case.content_item.owner_id
    if not owner_id:
        return 0, []
    decisions = (
        Decision.objects.filter(case__content_item__owner_id=owner_id)
        .exclude(case_id=case.pk)
        .exclude(case_id__in=blind_case_ids(user))
    )
    total = decisions.count()
    if not total:
        return 0, []
    shown = list(
        decisions.select_related("case", "case__content_item", "reviewer").order_by(
            "-created_at", "-pk"
        )[:limit]
    )
    return total, shown


def no_queue_reason(user) -> str:
    """Why a reviewer may claim from no queue, in words they can act on."""

    lapsed = list(
        QueueCertification.objects.filter(user=user, expires_at__lte=timezone.now())
        .select_related("queue")
        .order_by("-expires_at", "queue__order")[:11]
    )
    if lapsed:
        names = ", ".join(f"{c.queue.name} (expired {c.expires_at:%Y-%m-%d})" for c in lapsed[:10])
        if len(lapsed) > 10:
            names += " and others"
        return f"Your certifications have expired: {names}. A supervisor can renew them."
    return "You are not certified for any queue yet, so there is nothing you may claim."
