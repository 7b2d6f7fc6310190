"""Decisions reach the platform: signed webhooks, retried with backoff, logged, never lost."""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.enforcement.delivery import delivery_attempt, delivery_resend
from moderation.enforcement.jobs import deliver_action
from moderation.enforcement.models import DeliveryAttempt, EnforcementAction, WebhookDelivery
from reports.content import ContentFacts
from tests.moderation.webhook_receiver import (
    SECRET,
    TEST_INTERVALS,
    Receiver,
    configure,
    drive_retries,
    start,
    verify_signature,
)

REQUESTED = WebhookDelivery.Event.REQUESTED


def only_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("action").get()


@pytest.mark.django_db
class TestDelivery:
    def test_it_delivers_a_signed_request_after_the_decision_commits(self, platform, decide):
        case = decide("remove")
        assert len(platform.received) == 1
        got = platform.received[0]
        assert got.signature_ok
        delivery = only_delivery()
        assert delivery.status == "delivered" and delivery.delivered_at is not None
        assert delivery.action.status == EnforcementAction.Status.DELIVERED
        assert got.headers["Vigil-Delivery"] == str(delivery.uuid)
        assert got.headers["Idempotency-Key"] == str(delivery.uuid)
        assert got.headers["Vigil-Event"] == "action.requested"
        assert got.headers["Content-Type"] == "application/json"
        body = got.json
        assert body["delivery_id"] == str(delivery.uuid)
        assert body["action"]["kind"] == "remove_content"
        assert body["case"]["id"] == case.pk
        attempt = DeliveryAttempt.objects.get()
        assert (attempt.number, attempt.http_status, attempt.outcome) == (1, 200, "delivered")
        assert attempt.duration_ms >= 0
        assert AuditEvent.objects.filter(verb="action.delivered").count() == 1

    def test_the_signature_covers_the_body_and_the_time(self, platform, decide):
        decide("remove")
        got = platform.received[0]
        header = got.headers["Vigil-Signature"]
        assert verify_signature(SECRET, header, got.body)
        assert not verify_signature(SECRET, header, got.body.replace(b"remove", b"restore"))
        assert not verify_signature("another-secret-of-enough-length!!", header, got.body)
        # A captured request replayed later is refused by the time check.
        assert not verify_signature(SECRET, header, got.body, now=time.time() + 3600)

    def test_nothing_is_sent_before_commit_nor_after_a_rollback(
        self, platform, reviewer, submit_report, run_jobs
    ):
        from moderation.cases.services import case_claim_next
        from moderation.review.services import case_decide

        submit_report(category="spam", platform_id="p-1")
        case = case_claim_next(user=reviewer)
        with run_jobs():
            try:
                with transaction.atomic():
                    case_decide(case_id=case.pk, user=reviewer, action="remove", policy="spam")
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
        assert platform.received == []
        assert not WebhookDelivery.objects.exists()

    def test_server_errors_are_retried_with_growing_intervals_then_delivered(
        self, platform, decide
    ):
        platform.statuses = [500, 503, 200]
        decide("remove")
        delivery = only_delivery()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.next_attempt_at - delivery.last_attempt_at >= timedelta(
            seconds=TEST_INTERVALS[0]
        )
        drive_retries()
        delivery.refresh_from_db()
        assert delivery.status == "delivered"
        log = list(delivery.log.order_by("number").values_list("number", "http_status", "outcome"))
        assert log == [(1, 500, "retry"), (2, 503, "retry"), (3, 200, "delivered")]
        # Every attempt is the same delivery: the platform deduplicates on its id.
        assert len({r.headers["Vigil-Delivery"] for r in platform.received}) == 1
        assert all(r.signature_ok for r in platform.received)

    def test_408_and_429_are_retried_too(self, platform, decide):
        platform.statuses = [429, 408, 200]
        decide("remove")
        drive_retries()
        assert only_delivery().status == "delivered"
        assert len(platform.received) == 3

    def test_a_refusal_fails_at_once_without_retrying(self, platform, decide):
        platform.statuses = [422]
        decide("remove")
        delivery = only_delivery()
        assert delivery.status == "failed" and delivery.next_attempt_at is None
        assert delivery.action.status == EnforcementAction.Status.FAILED
        assert "HTTP 422" in delivery.last_result and "unknown account" in delivery.last_result
        assert len(platform.received) == 1
        assert AuditEvent.objects.filter(verb="action.delivery_failed").count() == 1

    def test_receiver_down_retries_then_fails_visibly_and_a_resend_delivers(
        self, settings, platform_down, decide, supervisor, run_jobs
    ):
        decide("remove")
        drive_retries()
        delivery = only_delivery()
        assert delivery.status == "failed"
        assert delivery.action.status == EnforcementAction.Status.FAILED
        attempts = list(delivery.log.order_by("number"))
        assert [a.outcome for a in attempts] == ["retry", "retry", "failed"]
        assert all(a.http_status is None and "refused" in a.error.lower() for a in attempts)
        assert "refused" in delivery.last_result.lower()

        # The platform comes back; a supervisor re-sends.
        receiver = Receiver()
        server = start(receiver)
        try:
            configure(settings, receiver.url)
            with run_jobs():
                delivery_resend(delivery_id=delivery.pk, user=supervisor)
            delivery.refresh_from_db()
            assert delivery.status == "delivered"
            assert delivery.attempts == 1 and delivery.attempts_total == 4
            assert receiver.received[0].headers["Vigil-Delivery"] == str(delivery.uuid)
            assert receiver.received[0].signature_ok
            event = AuditEvent.objects.get(verb="action.delivery_resent")
            assert event.actor == supervisor and event.before["status"] == "failed"
        finally:
            server.shutdown()
            server.server_close()

    def test_a_timeout_counts_as_a_passing_failure(self, platform, settings, decide):
        settings.PLATFORM_WEBHOOK_TIMEOUT_SECONDS = 1
        platform.delay = 1.5
        decide("remove")
        delivery = only_delivery()
        assert delivery.status == "pending"
        assert "timed out" in delivery.last_result
        attempt = delivery.log.get()
        assert attempt.http_status is None and attempt.duration_ms >= 900

    def test_running_the_job_twice_delivers_once(self, platform, decide):
        decide("remove")
        action = only_delivery().action
        deliver_action(action.pk)
        deliver_action(action.pk)
        assert len(platform.received) == 1
        assert DeliveryAttempt.objects.count() == 1

    def test_it_sends_nothing_and_keeps_actions_pending_when_not_configured(self, settings, decide):
        settings.PLATFORM_WEBHOOK_URL = ""
        decide("suspend")
        assert set(EnforcementAction.objects.values_list("status", flat=True)) == {"pending"}
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
        assert not DeliveryAttempt.objects.exists()
        assert (
            delivery_attempt(action_id=EnforcementAction.objects.first().pk, event=REQUESTED)
            is None
        )

    def test_actions_left_pending_are_delivered_once_delivery_is_configured(self, settings, decide):
        settings.PLATFORM_WEBHOOK_URL = ""
        decide("suspend")
        # Some time later, the deployment sets the URL and restarts.
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
        receiver = Receiver()
        server = start(receiver)
        try:
            configure(settings, receiver.url)
            drive_retries()
        finally:
            server.shutdown()
            server.server_close()
        kinds = sorted(r.json["action"]["kind"] for r in receiver.received)
        assert kinds == ["remove_content", "suspend_account"]
        assert set(EnforcementAction.objects.values_list("status", flat=True)) == {"delivered"}

    def test_known_material_actions_are_delivered_too(self, platform, run_jobs, png_upload):
        """A bank match requests removal and suspension without a reviewer; both reach the
        platform marked as such."""
        from moderation.enforcement.services import action_request
        from reports.models import Report
        from reports.services import report_submit

        report = report_submit(
            category="csam",
            reporter_kind=Report.ReporterKind.PUBLIC,
            source=Report.Source.FORM,
            content=ContentFacts(url="https://social.example/p/9", owner_id="acct-9"),
        )
        with run_jobs(), transaction.atomic():
            action_request(
                case=report.case,
                kind="suspend_account",
                target="acct-9",
                reason="match to known-material bank demo",
                actor_label="bank demo",
            )
        body = platform.received[0].json
        assert body["basis"] == "known_material_match" and body["decision"] is None
        assert body["action"]["target"] == "acct-9"

    def test_a_lost_job_is_found_by_the_sweep(self, platform, settings, decide):
        """With Redis, a delivery whose job vanished is queued again once long overdue; in the
        embedded mode, the command makes every due attempt."""
        settings.PLATFORM_WEBHOOK_URL = ""
        decide("remove")  # not configured: no attempt, as if the job had been lost
        settings.PLATFORM_WEBHOOK_URL = platform.url
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
        drive_retries()
        assert only_delivery().status == "delivered"

    def test_the_command_says_when_delivery_is_not_configured(self, settings, capsys):
        settings.PLATFORM_WEBHOOK_URL = ""
        call_command("deliver_actions", "--once")
        assert "not configured" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_documented_verification_recipe_accepts_vigils_requests(platform, decide):
    """docs/webhooks.md's Python recipe, run as written, against a real request."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "webhooks.md").read_text()
    recipe = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    namespace = {}
    exec(recipe, namespace)  # noqa: S102 (our own documentation)
    verify = namespace["verify"]
    decide("remove")
    got = platform.received[0]
    assert verify(SECRET, got.headers["Vigil-Signature"], got.body)
    assert not verify(SECRET, got.headers["Vigil-Signature"], got.body + b" ")
    assert not verify("x" * 40, got.headers["Vigil-Signature"], got.body)


@pytest.mark.django_db
def test_a_redirect_is_not_followed_and_fails_the_delivery(platform, decide):
    """A signed payload is never sent anywhere but the configured endpoint."""
    platform.statuses = [307]
    decide("remove")
    delivery = only_delivery()
    assert delivery.status == "failed"
    assert "HTTP 307" in delivery.last_result and "not followed" in delivery.last_result
    assert len(platform.received) == 1


@pytest.mark.django_db
def test_a_copy_of_the_job_ahead_of_the_schedule_sends_nothing(platform, decide):
    platform.statuses = [503, 200]
    decide("remove")
    delivery = only_delivery()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=2))
    deliver_action(delivery.action_id)
    assert len(platform.received) == 1
    assert only_delivery().attempts == 1
