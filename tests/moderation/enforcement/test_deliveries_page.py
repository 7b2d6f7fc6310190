"""What people see of deliveries: the case page's actions, the supervisor's deliveries page and
log, re-sending a failed delivery and reversing an action from the case page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Queue
from moderation.enforcement.models import EnforcementAction, WebhookDelivery
from tests.moderation.webhook_receiver import drive_retries


def deliveries_of(status: str):
    return WebhookDelivery.objects.filter(status=status)


@pytest.mark.django_db
class TestSupervisorPage:
    def test_failed_deliveries_come_first_then_pending(self, client, supervisor, platform, decide):
        platform.statuses = [200]
        decide("remove")
        platform.statuses = [503]
        decide("remove")
        platform.statuses = [410]
        decide("remove")
        client.force_login(supervisor)
        page = client.get("/supervise/deliveries/").content.decode()
        failed = deliveries_of("failed").get()
        pending = deliveries_of("pending").get()
        assert page.index(f"/supervise/deliveries/{failed.pk}/") < page.index(
            f"/supervise/deliveries/{pending.pk}/"
        )
        # The default view is what needs attention: the delivered one is not there.
        delivered = deliveries_of("delivered").get()
        assert f"/supervise/deliveries/{delivered.pk}/" not in page
        assert "HTTP 410" in page and "HTTP 503" in page
        assert "failed 1 · pending 1 · delivered 1" in page.replace("\n", "")

    def test_it_filters_by_status(self, client, supervisor, platform, decide):
        decide("remove")
        platform.statuses = [400]
        decide("remove")
        client.force_login(supervisor)
        page = client.get("/supervise/deliveries/?status=delivered").content.decode()
        assert page.count('data-status="delivered"') == 1
        assert 'data-status="failed"' not in page
        everything = client.get("/supervise/deliveries/?status=all").content.decode()
        assert everything.count("data-status=") == 2
        # An unknown filter falls back to the default view rather than failing.
        assert client.get("/supervise/deliveries/?status=%00nope").status_code == 200

    def test_its_query_count_does_not_grow_with_the_deliveries(
        self, client, supervisor, settings, decide
    ):
        settings.PLATFORM_WEBHOOK_URL = ""
        client.force_login(supervisor)
        decide("suspend")
        # Warm: the navigation's inbox counts are read once, then kept briefly.
        client.get("/supervise/deliveries/?status=all")
        with CaptureQueriesContext(connection) as few:
            client.get("/supervise/deliveries/?status=all")
        for _ in range(6):
            decide("suspend")
        with CaptureQueriesContext(connection) as many:
            page = client.get("/supervise/deliveries/?status=all").content.decode()
        assert page.count("data-status=") == 14
        assert len(many) == len(few)

    def test_it_says_when_delivery_is_not_configured(self, client, supervisor, settings, decide):
        settings.PLATFORM_WEBHOOK_URL = ""
        decide("remove")
        client.force_login(supervisor)
        page = client.get("/supervise/deliveries/").content.decode()
        assert 'data-testid="delivery-not-configured"' in page
        assert "not configured" in page


@pytest.mark.django_db
class TestDeliveryLog:
    def test_it_shows_every_attempt_and_the_payload(self, client, supervisor, platform, decide):
        platform.statuses = [500, 200]
        case = decide("remove")
        drive_retries()
        delivery = WebhookDelivery.objects.get()
        client.force_login(supervisor)
        page = client.get(f"/supervise/deliveries/{delivery.pk}/").content.decode()
        assert "HTTP 500" in page and "HTTP 200" in page
        assert "Will retry" in page and "Delivered" in page
        assert str(delivery.uuid) in page
        assert f"&quot;id&quot;: {case.pk}" in page  # the case, in the payload shown
        assert 'data-testid="resend"' not in page

    def test_an_unknown_delivery_is_a_404(self, client, supervisor):
        client.force_login(supervisor)
        assert client.get("/supervise/deliveries/999999/").status_code == 404
        assert client.post("/supervise/deliveries/999999/resend/").status_code == 404

    def test_a_supervisor_resends_a_failed_delivery(
        self, client, supervisor, platform, decide, run_jobs
    ):
        platform.statuses = [400, 200]
        decide("remove")
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "failed"
        client.force_login(supervisor)
        page = client.get(f"/supervise/deliveries/{delivery.pk}/").content.decode()
        assert 'data-testid="resend"' in page
        with run_jobs():
            response = client.post(f"/supervise/deliveries/{delivery.pk}/resend/")
        # Post, redirect, get.
        assert response.status_code == 302
        assert response.url == f"/supervise/deliveries/{delivery.pk}/"
        drive_retries()
        delivery.refresh_from_db()
        assert delivery.status == "delivered"
        assert delivery.action.status == EnforcementAction.Status.DELIVERED
        assert len(platform.received) == 2
        event = AuditEvent.objects.get(verb="action.delivery_resent")
        assert event.actor == supervisor and event.ip == "127.0.0.1"
        page = client.get(response.url).content.decode()
        assert "Queued to be sent again." in page

    def test_resending_what_is_not_failed_is_refused_clearly(
        self, client, supervisor, platform, decide
    ):
        decide("remove")
        delivery = WebhookDelivery.objects.get()
        client.force_login(supervisor)
        response = client.post(f"/supervise/deliveries/{delivery.pk}/resend/", follow=True)
        assert "Only a failed delivery can be re-sent" in response.content.decode()
        assert not AuditEvent.objects.filter(verb="action.delivery_resent").exists()


@pytest.mark.django_db
class TestCasePage:
    def test_it_lists_actions_with_their_delivery_and_last_attempt(
        self, client, reviewer, platform, decide
    ):
        platform.statuses = [200, 503]
        case = decide("suspend")
        client.force_login(reviewer)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert page.count('data-testid="action"') == 2
        assert page.count('data-testid="delivery"') == 2
        assert "Action requested: <strong>delivered</strong>" in page
        assert "Action requested: <strong>pending</strong>" in page
        assert "(HTTP 200)" in page and "(HTTP 503)" in page
        assert "next attempt" in page
        # The log is the supervisor's.
        assert "/supervise/deliveries/" not in page

    def test_it_says_when_delivery_is_not_configured(self, client, reviewer, settings, decide):
        settings.PLATFORM_WEBHOOK_URL = ""
        case = decide("remove")
        client.force_login(reviewer)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert 'data-testid="delivery-not-configured"' in page
        assert "not sent: delivery not configured" in page

    def test_its_query_count_does_not_grow_with_the_actions(
        self, client, supervisor, settings, decide
    ):
        settings.PLATFORM_WEBHOOK_URL = ""
        client.force_login(supervisor)
        one = decide("remove")
        several = decide("suspend")
        # Warm: the navigation's inbox counts are read once, then kept briefly.
        client.get(f"/cases/{one.pk}/")
        with CaptureQueriesContext(connection) as few:
            client.get(f"/cases/{one.pk}/")
        with CaptureQueriesContext(connection) as more:
            client.get(f"/cases/{several.pk}/")
        assert len(more) == len(few)

    def test_a_reviewer_reverses_an_action_from_the_case_page(
        self, client, reviewer, platform, decide, run_jobs
    ):
        case = decide("remove")
        action = EnforcementAction.objects.get()
        client.force_login(reviewer)
        with run_jobs():
            response = client.post(
                f"/cases/{case.pk}/actions/{action.pk}/reverse/", {"reason": "wrong post"}
            )
        assert response.status_code == 302 and response.url == f"/cases/{case.pk}/"
        action.refresh_from_db()
        assert action.status == "reversed"
        assert platform.received[-1].json["event"] == "action.reversed"
        page = client.get(response.url).content.decode()
        assert "Reversed by rita" in page and "wrong post" in page
        assert "Action reversed: <strong>delivered</strong>" in page

    def test_reversing_needs_a_reason_access_and_the_right_case(
        self, client, reviewer, make_user, settings, decide
    ):
        settings.PLATFORM_WEBHOOK_URL = ""
        case = decide("remove")
        other_case = decide("remove")
        action = EnforcementAction.objects.filter(case=case).get()
        client.force_login(reviewer)
        response = client.post(
            f"/cases/{case.pk}/actions/{action.pk}/reverse/", {"reason": ""}, follow=True
        )
        assert "Say why the action is reversed." in response.content.decode()
        assert (
            client.post(
                f"/cases/{other_case.pk}/actions/{action.pk}/reverse/", {"reason": "x"}
            ).status_code
            == 404
        )
        outsider = make_user("olga", Role.REVIEWER, queues=Queue.objects.none())
        client.force_login(outsider)
        assert (
            client.post(
                f"/cases/{case.pk}/actions/{action.pk}/reverse/", {"reason": "x"}
            ).status_code
            == 403
        )
        action.refresh_from_db()
        assert action.status == "pending"
