"""End to end with PostgreSQL, Redis and a real `rqworker` process: a supervisor's submission goes
through the outbox to RQ, the worker talks to the (fake) CyberTipline, a server error on the way
is retried through RQ, and the escalation ends submitted exactly once."""

import pytest

from accounts.roles import Role
from moderation.escalations import submission
from moderation.escalations.models import Escalation
from tests.moderation import cybertip_server
from tests.moderation.cybertip_fixtures import escalation_factory
from tests.rqworker import needs_real_worker, run_burst_worker


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_rqworker_submits_to_the_cybertipline_once(
    make_user, submit_report, png_upload, private_media, settings
):
    server = cybertip_server.FakeCyberTipline()
    server.script["upload"] = ["500"]  # one server error: RQ runs the job again
    httpd = cybertip_server.start(server)
    try:
        settings.CYBERTIP_API_URL = server.url
        settings.CYBERTIP_USERNAME = cybertip_server.USERNAME
        settings.CYBERTIP_PASSWORD = cybertip_server.PASSWORD
        escalation = escalation_factory(make_user, submit_report, png_upload)(
            [{"platform_id": "a"}, {"platform_id": "b"}],
            urgent=True,
            urgent_reason="A child is in danger now.",
        )
        boss = make_user("sue", Role.SUPERVISOR)
        submission.escalation_submit(escalation_id=escalation.pk, user=boss)
        escalation.refresh_from_db()
        assert escalation.status == "ready" and escalation.submission_started_at is not None
        assert server.requests == []  # queued in Redis, not run here

        # Urgent: on the high queue, which the worker serves first.
        run_burst_worker(
            "high",
            "default",
            timeout=180,
            PRIVATE_MEDIA_ROOT=str(private_media),
            CYBERTIP_API_URL=server.url,
            CYBERTIP_USERNAME=cybertip_server.USERNAME,
            CYBERTIP_PASSWORD=cybertip_server.PASSWORD,
            CYBERTIP_TIMEOUT_SECONDS="5",
            CYBERTIP_RETRY_INTERVALS="0,0",
        )
    finally:
        httpd.shutdown()
        httpd.server_close()

    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.SUBMITTED, escalation.failure_reason
    assert escalation.submitted_via == "api"
    assert server.finished_reports() == [escalation.report_id]
    assert server.calls("submit") == 1 and server.calls("finish") == 1
    outcomes = list(
        escalation.submission_attempts.order_by("number").values_list("step", "outcome")
    )
    assert outcomes == [
        ("open", "ok"),
        ("upload", "retry"),
        ("upload", "ok"),
        ("file_details", "ok"),
        ("upload", "ok"),
        ("file_details", "ok"),
        ("finish", "ok"),
    ]
