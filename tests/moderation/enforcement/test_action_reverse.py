"""Reversing an action: recorded in Vigil, audited, and the platform told to undo it."""

import pytest
from django.core.exceptions import PermissionDenied

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Queue
from moderation.enforcement.delivery import DeliveryError, action_reverse, delivery_resend
from moderation.enforcement.models import EnforcementAction, WebhookDelivery


def the_action() -> EnforcementAction:
    return EnforcementAction.objects.get()


@pytest.mark.django_db
class TestActionReverse:
    def test_it_reverses_a_delivered_action_and_tells_the_platform(
        self, platform, decide, reviewer, run_jobs
    ):
        decide("remove")
        action = the_action()
        assert action.status == "delivered"
        with run_jobs():
            action_reverse(
                action_id=action.pk, user=reviewer, reason="misread the post", ip="10.0.0.9"
            )
        action.refresh_from_db()
        assert action.status == "reversed"
        assert action.reversed_by == reviewer and action.reversed_at is not None
        assert action.reversal_reason == "misread the post"
        reversal = action.deliveries.get(event="action.reversed")
        assert reversal.status == "delivered"
        body = platform.received[-1].json
        assert body["event"] == "action.reversed"
        assert body["delivery_id"] == str(reversal.uuid)
        assert body["action"]["id"] == action.pk
        assert body["reversal"]["source"] == "review"
        assert body["reversal"]["reversed_at"] == action.reversed_at.isoformat()
        # The reason stays in Vigil.
        assert "misread" not in platform.received[-1].body.decode()
        event = AuditEvent.objects.get(verb="action.reversed")
        assert event.actor == reviewer and event.ip == "10.0.0.9"
        assert event.before == {"status": "delivered"}
        assert event.after["status"] == "reversed" and event.after["platform_told"] is True

    def test_an_appeal_reversal_says_so(self, platform, decide, supervisor, run_jobs):
        decide("remove")
        with run_jobs():
            action_reverse(
                action_id=the_action().pk,
                user=supervisor,
                reason="appeal 3 upheld",
                source="appeal",
            )
        assert platform.received[-1].json["reversal"]["source"] == "appeal"

    def test_a_request_never_sent_is_cancelled_and_nothing_is_sent(
        self, settings, decide, reviewer, run_jobs
    ):
        settings.PLATFORM_WEBHOOK_URL = ""
        decide("remove")
        with run_jobs():
            action_reverse(action_id=the_action().pk, user=reviewer, reason="wrong item")
        request = WebhookDelivery.objects.get()
        assert request.status == "cancelled" and request.next_attempt_at is None
        assert the_action().status == "reversed"
        assert AuditEvent.objects.get(verb="action.reversed").after["platform_told"] is False

    def test_a_request_still_being_retried_stops_and_a_reversal_follows(
        self, platform, decide, reviewer, run_jobs
    ):
        from tests.moderation.webhook_receiver import drive_retries

        platform.statuses = [503, 200]
        decide("remove")
        with run_jobs():
            action_reverse(action_id=the_action().pk, user=reviewer, reason="wrong item")
        drive_retries()
        deliveries = dict(the_action().deliveries.values_list("event", "status"))
        assert deliveries == {"action.requested": "cancelled", "action.reversed": "delivered"}
        # The request's one attempt may have reached the platform: the reversal goes too, and the
        # request is never sent again.
        assert [r.json["event"] for r in platform.received] == [
            "action.requested",
            "action.reversed",
        ]

    def test_it_refuses_twice_without_a_reason_or_without_access(
        self, platform, decide, reviewer, make_user, run_jobs
    ):
        decide("remove")
        action = the_action()
        with pytest.raises(DeliveryError):
            action_reverse(action_id=action.pk, user=reviewer, reason="  ")
        outsider = make_user("olga", Role.REVIEWER, queues=Queue.objects.none())
        with pytest.raises(PermissionDenied):
            action_reverse(action_id=action.pk, user=outsider, reason="no")
        with run_jobs():
            action_reverse(action_id=action.pk, user=reviewer, reason="wrong")
        with pytest.raises(DeliveryError, match="already been reversed"):
            action_reverse(action_id=action.pk, user=reviewer, reason="again")
        assert AuditEvent.objects.filter(verb="action.reversed").count() == 1
        assert len(platform.received) == 2

    def test_a_failed_request_of_a_reversed_action_cannot_be_resent(
        self, platform, decide, reviewer, supervisor, run_jobs
    ):
        platform.statuses = [400, 200]
        decide("remove")
        request = WebhookDelivery.objects.get()
        assert request.status == "failed"
        with run_jobs():
            action_reverse(action_id=request.action_id, user=reviewer, reason="wrong")
        with pytest.raises(DeliveryError, match="reversed"):
            delivery_resend(delivery_id=request.pk, user=supervisor)

    def test_only_failed_deliveries_are_resent(self, platform, decide, supervisor):
        decide("remove")
        with pytest.raises(DeliveryError, match="Only a failed delivery"):
            delivery_resend(delivery_id=WebhookDelivery.objects.get().pk, user=supervisor)

    def test_an_overturned_appeal_reverses_at_the_platform(
        self, platform, decide, reviewer, make_user, run_jobs
    ):
        from moderation.cases.services import case_claim_next
        from moderation.review.appeals import appeal_open
        from moderation.review.services import case_decide

        case = decide("suspend", platform_id="post-appealed")
        appeal_open(content_id="post-appealed", statement="not mine", actor_label="api token t")
        other = make_user("other")
        assert case_claim_next(user=other).pk == case.pk
        with run_jobs():
            case_decide(case_id=case.pk, user=other, action="remove", policy="spam")
        reversal = WebhookDelivery.objects.get(event="action.reversed")
        assert reversal.action.kind == "suspend_account"
        assert reversal.status == "delivered"
        body = platform.received[-1].json
        assert body["event"] == "action.reversed"
        assert body["reversal"]["source"] == "appeal"
        assert body["action"]["target"] == "acct-42"
