from django import template

from moderation.escalations import submission
from moderation.escalations.models import Escalation

register = template.Library()


@register.simple_tag
def cybertip_submission(escalation: Escalation, user) -> dict:
    """What the escalation page shows about submission through the CyberTipline API."""
    supervisor = user.has_perm("accounts.supervise")
    return {
        "configured": submission.configured(),
        "attempts": list(escalation.submission_attempts.select_related("file").order_by("number")),
        # A stalled one (its job lost) is offered to a supervisor to resume instead.
        "in_progress": escalation.submission_started_at is not None
        and not submission.stalled(escalation),
        "may_start": supervisor and submission.configured() and submission.can_start(escalation),
        "resuming": submission.can_submit_again(escalation) or submission.stalled(escalation),
        "may_retract": supervisor
        and submission.configured()
        and submission.can_retract(escalation),
    }
