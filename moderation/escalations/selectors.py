"""Reads for escalations: the list people work from, one escalation with what it gathers."""

from django.db.models import Case as When_
from django.db.models import (
    CharField,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from accounts import roles
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.decisions.models import Appeal, Decision
from moderation.escalations.history import describe as describe_event
from moderation.escalations.models import Escalation, EscalationFile
from moderation.escalations.video_evidence import describe as describe_video

S = Escalation.Status

# The list's filters (?status=): what needs someone first, every state, then what each kind of
# work waits on (the inbox links to these; moderation/supervision/inbox.py). The keys are part of
# the URLs people bookmark: keep them.
ATTENTION = "attention"
READY_TO_SUBMIT = "ready_to_submit"
FAILED_ASSEMBLY = "failed_assembly"
FAILED_SUBMISSION = "failed_submission"
# What each work filter keeps. A packet being sent through the API is not waiting on anyone; a
# failure without a packet happened while assembling it, one with a packet while submitting it.
WORK_FILTERS = {
    READY_TO_SUBMIT: Q(status=S.READY, submission_started_at__isnull=True),
    FAILED_ASSEMBLY: Q(status=S.FAILED, packet_sha256=""),
    FAILED_SUBMISSION: Q(status=S.FAILED) & ~Q(packet_sha256=""),
}
FILTERS = [
    (ATTENTION, "Needs someone"),
    ("all", "All"),
    *[(value, label) for value, label in S.choices],
    (READY_TO_SUBMIT, "Ready to submit"),
    (FAILED_ASSEMBLY, "Failed to assemble"),
    (FAILED_SUBMISSION, "Failed to submit"),
]
NEEDS_SOMEONE = (S.DRAFT, S.AWAITING_APPROVAL, S.FAILED, S.READY)
# Audit events that move an escalation to another state: the newest says since when it is in
# the one it is in.
STATE_VERBS = [
    "escalation.opened",
    "escalation.approval_requested",
    "escalation.approved",
    "escalation.returned",
    "escalation.merged",
    "escalation.withdrawn",
    "escalation.assembled",
    "escalation.assembly_failed",
    "escalation.assembly_retried",
    "escalation.submission_started",
    "escalation.submission_failed",
    "escalation.submission_retracted",
    "escalation.submitted",
    "escalation.acknowledged",
]


def visible_to(user, qs: QuerySet[Escalation] | None = None) -> QuerySet[Escalation]:
    """Senior reviewers and supervisors see every escalation; a reviewer sees those their own
    decisions opened or added to (to prepare the report), and no others."""
    qs = Escalation.objects.all() if qs is None else qs
    if user.has_perm(roles.SENIOR_REVIEW):
        return qs
    escalated_by_user = Decision.objects.filter(
        case__escalations=OuterRef("pk"), reviewer=user, action=Decision.Action.ESCALATE
    )
    return qs.filter(Q(opened_by=user) | Exists(escalated_by_user))


def failed_first(user) -> bool:
    """Supervisors, who answer for every report, see failed ones before anything else: a failed
    report is one nobody else will pick up. Everyone else sees urgent ones first."""
    return user.has_perm(roles.SUPERVISE)


def _its_events(verbs) -> QuerySet[AuditEvent]:
    """The audit events of the escalation in the outer query with these verbs, newest first (the
    audit_object_id index: no query per row)."""
    return AuditEvent.objects.filter(
        object_type=Escalation._meta.label_lower,
        object_id=Cast(OuterRef("pk"), output_field=CharField()),
        verb__in=verbs,
    ).order_by("-id")


def escalations_list(user, status: str = ATTENTION, *, mine: bool = False) -> QuerySet[Escalation]:
    """Urgent first, then failed ones (someone must act), then the oldest: what waits longest is
    what the authority has waited on longest. For supervisors, failed ones first, then urgent.

    Each row says who holds it and since when it is in its state (`state_since`; when it was
    opened if its history is missing), in the same query. `mine`: only those `user` opened."""
    qs = (
        visible_to(user)
        .select_related("opened_by", "approved_by", "approval_requested_by", "legal_hold_by")
        .annotate(
            cases_count=Count("cases", distinct=True),
            failed_first=When_(
                When(status=S.FAILED, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
            state_since=Coalesce(
                Subquery(_its_events(STATE_VERBS).values("created_at")[:1]), "created_at"
            ),
            # Who last wrote its report: holds a draft a bank policy opened.
            last_writer=Subquery(
                _its_events(["escalation.details_changed"]).values("actor_label")[:1]
            ),
        )
    )
    if status == ATTENTION:
        qs = qs.filter(status__in=NEEDS_SOMEONE)
    elif status in WORK_FILTERS:
        qs = qs.filter(WORK_FILTERS[status])
    elif status != "all":
        qs = qs.filter(status=status)
    if mine:
        qs = qs.filter(opened_by=user)
    if failed_first(user):
        return qs.order_by("failed_first", "-urgent", "created_at", "pk")
    return qs.order_by("-urgent", "failed_first", "created_at", "pk")


def escalation_counts(user) -> dict[str, int]:
    rows = visible_to(user).order_by().values_list("status").annotate(n=Count("pk"))
    counts = dict(rows)
    return {label: counts.get(value, 0) for value, label in S.choices if counts.get(value)}


def escalation_cases(escalation: Escalation) -> list[Case]:
    """Its cases with their content, queue and the escalating decisions, in a fixed number of
    queries."""
    return list(
        escalation.cases.select_related("content_item", "queue")
        .prefetch_related(
            Prefetch(
                "decisions",
                queryset=Decision.objects.filter(action=Decision.Action.ESCALATE)
                .select_related("reviewer")
                .order_by("created_at"),
                to_attr="escalating_decisions",
            ),
            "content_item__media",
        )
        .order_by("pk")
    )


def packet_files(escalation: Escalation) -> list[EscalationFile]:
    """The packet's evidence files in packet order, each with its media and, for a video, a
    `description` (container, codec, dimensions, duration), in one query."""
    files = list(escalation.files.select_related("media").order_by("name"))
    for f in files:
        f.description = describe_video(f.media) if f.media.is_video else ""
    return files


def overturned_case_ids(escalation: Escalation) -> list[int]:
    """Cases whose escalating decision was overturned on appeal since: the escalation stays until
    a person withdraws it (or, if it was submitted, retracts it at the authority), so say so."""

    return list(
        Appeal.objects.filter(
            case__escalations=escalation,
            decision__action=Decision.Action.ESCALATE,
            status__in=Appeal.EASED,
        )
        .values_list("case_id", flat=True)
        .distinct()
    )


def cleared_case_ids(escalation: Escalation) -> list[int]:
    """Cases whose latest decision found no violation (e.g. a reviewer looked at what a bank
    policy escalated on its own and disagreed): worth a person's look before it is reported."""
    latest = Decision.objects.filter(case=OuterRef("pk")).order_by("-created_at", "-pk")
    return list(
        escalation.cases.annotate(latest_action=Subquery(latest.values("action")[:1]))
        .filter(latest_action=Decision.Action.NO_VIOLATION)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def escalation_audit(escalation: Escalation, limit: int = 200) -> list[AuditEvent]:
    """Its history, newest first, each event with a `label` in words ("Approved by sen")."""
    events = list(
        AuditEvent.objects.filter(
            object_type=escalation._meta.label_lower, object_id=str(escalation.pk)
        ).order_by("-created_at", "-pk")[:limit]
    )
    for event in events:
        event.label = describe_event(event)
    return events


def _with_attempts() -> QuerySet:
    return Escalation.objects.annotate(attempts=Count("submission_attempts"))


def escalations_page(
    *, status: str | None, before: int | None, limit: int
) -> tuple[list[Escalation], bool]:
    """A page of escalations, newest first, with their submission attempts counted; and whether
    more follow."""
    qs = _with_attempts()
    if status:
        qs = qs.filter(status=status)
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.order_by("-pk")[: limit + 1])
    return rows[:limit], len(rows) > limit


def escalation_with_attempts(escalation_id: int) -> Escalation | None:
    return _with_attempts().filter(pk=escalation_id).first()


def escalations_case_ids(escalation_ids: list[int]) -> dict[int, list[int]]:
    """Each escalation's case ids, in order, in one query."""
    through = Escalation.cases.through.objects.filter(escalation_id__in=escalation_ids)
    ids: dict[int, list[int]] = {pk: [] for pk in escalation_ids}
    for escalation_id, case_id in through.order_by("case_id").values_list(
        "escalation_id", "case_id"
    ):
        ids[escalation_id].append(case_id)
    return ids
