"""Recomputing priorities when what feeds them changes: the admin's weights, reporters' track
records, and (moderation/periodic/services.py) time."""

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.cases.jobs import recompute_priorities, refresh_reporters_cases
from moderation.cases.models import Case, PriorityWeights
from moderation.cases.priority import RELIABILITY_MIN_REPORTS, compute_priority
from moderation.cases.rollup import case_priority_inputs, cases_refresh
from moderation.cases.weights import forget_weights
from moderation.outbox.services import enqueue
from reports.models import ReporterIdentity, ReporterRecord

# Open cases recomputed per transaction (and per job) when the weights change.
RECOMPUTE_BATCH = 500


def priority_weights_changed() -> int:
    """Call in the transaction that saved new weights: every process reloads them, and every open
    case is recomputed with them, in batches, by a job. Returns the new version."""
    PriorityWeights.objects.filter(pk=1).update(version=F("version") + 1, updated_at=timezone.now())
    version = PriorityWeights.objects.filter(pk=1).values_list("version", flat=True).get()
    forget_weights()

    enqueue(recompute_priorities, version, 0)
    return version


def cases_recompute_priorities(*, version: int, after_id: int = 0) -> int | None:
    """Recompute the priority of the next batch of open cases (by id, after `after_id`) with the
    weights of `version`, and queue the batch after it. Returns the last id done, or None when
    there was nothing to do. A newer change of weights starts its own pass, so a pass for an
    older version stops; running a batch twice gives the same result."""
    with transaction.atomic(durable=True):
        row = PriorityWeights.load()
        if row.version != version:
            return None
        weights = row.as_weights()
        now = timezone.now()
        cases = list(
            Case.objects.select_for_update(of=("self",))
            .select_related("content_item", "queue")
            .filter(status=Case.Status.OPEN, pk__gt=after_id)
            .order_by("pk")[:RECOMPUTE_BATCH]
        )
        for case in cases:
            case.priority, case.priority_breakdown = compute_priority(
                case_priority_inputs(case), now=now, weights=weights
            )
            case.updated_at = now
        Case.objects.bulk_update(cases, ["priority", "priority_breakdown", "updated_at"])
        if len(cases) == RECOMPUTE_BATCH:
            enqueue(recompute_priorities, version, cases[-1].pk)
    return cases[-1].pk if cases else None


def reporter_share(fingerprint: str) -> float | None:
    """The reporter's share of decided reports upheld, once they have enough: one indexed row."""
    if not fingerprint:
        return None
    row = ReporterRecord.objects.filter(fingerprint=fingerprint).first()
    return row.share(RELIABILITY_MIN_REPORTS) if row is not None else None


def case_reporter_reliability(case: Case) -> float | None:
    """The best track record among the case's reporters (bounded by the case's own reports)."""
    fingerprints = (
        ReporterIdentity.objects.filter(report__case=case)
        .exclude(fingerprint="")
        .values("fingerprint")
    )
    shares = [
        upheld / decided
        for decided, upheld in ReporterRecord.objects.filter(
            fingerprint__in=fingerprints, decided__gte=RELIABILITY_MIN_REPORTS
        ).values_list("decided", "upheld")
    ]
    return max(shares) if shares else None


@in_transaction
def reporters_record_outcome(*, case: Case, upheld: bool) -> None:
    """A decision was reached on `case`: count it in the track record of each reporter whose
    report it had not counted yet (once per reporter per decision). Call inside the decision's
    transaction. Open cases of reporters whose record now counts get their priority again."""
    identities = ReporterIdentity.objects.filter(report__case=case, outcome_counted=False)
    fingerprints = sorted(
        set(identities.exclude(fingerprint="").values_list("fingerprint", flat=True))
    )
    identities.update(outcome_counted=True)
    if not fingerprints:
        return
    now = timezone.now()
    # Create missing rows first, then count with F(): two decisions at once both count.
    ReporterRecord.objects.bulk_create(
        [ReporterRecord(fingerprint=fp) for fp in fingerprints], ignore_conflicts=True
    )
    records = ReporterRecord.objects.filter(fingerprint__in=fingerprints)
    records.update(decided=F("decided") + 1, upheld=F("upheld") + int(upheld), updated_at=now)
    counting = list(
        records.filter(decided__gte=RELIABILITY_MIN_REPORTS).values_list("pk", flat=True)
    )
    if counting:
        enqueue(refresh_reporters_cases, counting)


@in_transaction
def reporters_revise_outcome(*, case: Case, was_upheld: bool, upheld: bool) -> None:
    """An appeal overturned the case's decision: the reporters already counted for it move from
    upheld to not (or back). Call inside the decision's transaction, before
    reporters_record_outcome (which counts the reporters not counted yet)."""
    if was_upheld == upheld:
        return
    fingerprints = set(
        ReporterIdentity.objects.filter(report__case=case, outcome_counted=True)
        .exclude(fingerprint="")
        .values_list("fingerprint", flat=True)
    )
    records = ReporterRecord.objects.filter(fingerprint__in=fingerprints)
    # Within 0..decided whatever happened before (the constraint would refuse it anyway).
    room = Q(upheld__lt=F("decided")) if upheld else Q(upheld__gt=0)
    records = records.filter(room)
    ids = list(records.values_list("pk", flat=True))
    ReporterRecord.objects.filter(pk__in=ids).update(
        upheld=F("upheld") + (1 if upheld else -1), updated_at=timezone.now()
    )
    counting = list(
        ReporterRecord.objects.filter(pk__in=ids, decided__gte=RELIABILITY_MIN_REPORTS).values_list(
            "pk", flat=True
        )
    )
    if counting:
        enqueue(refresh_reporters_cases, counting)


def cases_refresh_reliability(*, record_ids: list[int]) -> int:
    """Recompute reporter reliability and priority for the open cases these reporters reported.
    Idempotent. Returns how many cases were recomputed."""
    fingerprints = ReporterRecord.objects.filter(pk__in=record_ids).values("fingerprint")
    ids = list(
        Case.objects.filter(
            status=Case.Status.OPEN, reports__reporter_identity__fingerprint__in=fingerprints
        )
        .values_list("pk", flat=True)
        .distinct()
    )

    def reread_reliability(case):
        case.reporter_reliability = case_reporter_reliability(case)

    cases_refresh(ids, before=reread_reliability)
    return len(ids)
