"""Job path of the previous release, kept for one release (see moderation/jobs.py)."""

from moderation.escalations.jobs import assemble_packet

__all__ = ["assemble_packet"]
