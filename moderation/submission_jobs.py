"""Job path of the previous release, kept for one release (see moderation/jobs.py)."""

from moderation.escalations.jobs import submit_escalation

__all__ = ["submit_escalation"]
