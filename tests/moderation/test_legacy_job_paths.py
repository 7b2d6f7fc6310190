"""Jobs queued by the release before the domain packages still run after the upgrade.

RQ keeps a job's function as a dotted path: in Redis for queued and scheduled jobs, and in
`OutboxJob.func` until the relay hands the job over. The previous release wrote
`moderation.jobs.<name>`, `moderation.escalation_jobs.assemble_packet` and
`moderation.submission_jobs.submit_escalation`; those names stay importable for one release.
"""

import pytest
from django.utils.module_loading import import_string

from lib.jobs import get_queue
from moderation.audit.jobs import verify_audit_log
from moderation.audit.models import AuditVerification
from moderation.banks.jobs import rematch_media
from moderation.cases.jobs import recompute_priorities, refresh_reporters_cases
from moderation.enforcement.jobs import deliver_action
from moderation.escalations.jobs import assemble_packet, purge_expired_evidence, submit_escalation
from moderation.outbox.models import OutboxJob
from moderation.outbox.services import relay
from moderation.periodic.jobs import refresh_waiting_priorities
from tests.rqworker import needs_real_worker, run_burst_worker

PREVIOUS_RELEASE = {
    "moderation.jobs.rematch_media": rematch_media,
    "moderation.jobs.deliver_action": deliver_action,
    "moderation.jobs.recompute_priorities": recompute_priorities,
    "moderation.jobs.refresh_reporters_cases": refresh_reporters_cases,
    "moderation.jobs.refresh_waiting_priorities": refresh_waiting_priorities,
    "moderation.jobs.purge_expired_evidence": purge_expired_evidence,
    "moderation.jobs.verify_audit_log": verify_audit_log,
    "moderation.escalation_jobs.assemble_packet": assemble_packet,
    "moderation.submission_jobs.submit_escalation": submit_escalation,
}


@pytest.mark.parametrize("path", sorted(PREVIOUS_RELEASE))
def test_it_resolves_each_previous_path_to_the_same_function(path):
    assert import_string(path) is PREVIOUS_RELEASE[path]


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_a_job_stored_under_a_previous_path_runs_in_a_real_worker():
    # One job already in Redis under its old name, one still waiting in the outbox.
    get_queue().enqueue("moderation.jobs.verify_audit_log")
    OutboxJob.objects.create(func="moderation.jobs.verify_audit_log", args=[], queue="default")
    assert relay() == 1
    run_burst_worker()
    assert AuditVerification.objects.filter(ok=True).count() == 2
