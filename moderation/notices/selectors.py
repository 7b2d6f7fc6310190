"""How a report stands, as the platform may read it by reference (GET /api/v1/reports/{reference}):
the same answer the reporter's outcome notice gives, and nothing more."""

from django.utils import timezone

from moderation.cases.models import Case
from moderation.decisions.models import Decision
from moderation.notices.services import decision_outcome, standing_decision
from reports.models import Report, ReporterNotice

RECEIVED = "received"
UNDER_REVIEW = "under_review"
# Every answer report_standing gives, in the order a report goes through them.
STANDINGS = (RECEIVED, UNDER_REVIEW, *ReporterNotice.Outcome.values)


def report_standing(report: Report) -> str:
    """ "actioned" or "no_action" once a decision made after the report arrived closes its case
    (the latest such decision: an appeal's outcome replaces the one it contested), or the
    decision standing when it was counted against a case decided before it arrived;
    "under_review" while a reviewer holds the case or it waits for a senior reviewer after a
    referral; "received" while it waits in a queue."""
    case: Case = report.case
    decision = standing_decision(case.pk, since=report.created_at)
    if decision is None and case.status == Case.Status.DECIDED:
        decision = standing_decision(case.pk)
    if decision is not None:
        return decision_outcome(decision)
    referred = case.decisions.filter(
        action=Decision.Action.SENIOR_REVIEW, created_at__gte=report.created_at
    ).exists()
    if referred or (case.assignee_id and case.lease_is_live(timezone.now())):
        return UNDER_REVIEW
    return RECEIVED
