"""Job paths of the previous release, kept for one release.

RQ stores a job's function as a dotted path (in Redis, and in `OutboxJob.func` until the relay
hands it over), so jobs queued or scheduled by a process of the release before the move to
domain packages name `moderation.jobs.<name>`. These names resolve to the same functions, so
such jobs still run after the upgrade. Remove in the release after next; nothing new uses them
(tests/moderation/test_legacy_job_paths.py).
"""

from moderation.audit.jobs import verify_audit_log
from moderation.banks.jobs import rematch_media
from moderation.cases.jobs import recompute_priorities, refresh_reporters_cases
from moderation.enforcement.jobs import deliver_action
from moderation.escalations.jobs import assemble_packet, purge_expired_evidence, submit_escalation
from moderation.periodic.jobs import refresh_waiting_priorities

__all__ = [
    "assemble_packet",
    "deliver_action",
    "purge_expired_evidence",
    "recompute_priorities",
    "refresh_reporters_cases",
    "refresh_waiting_priorities",
    "rematch_media",
    "submit_escalation",
    "verify_audit_log",
]
