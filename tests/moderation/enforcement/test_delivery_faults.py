"""Faults between a decision and the platform: the receiver down, Redis down or restarted.
Each ends with the action delivered or visibly failed; none is lost. Real Redis servers are
started and stopped on a spare port (as in tests/lib/test_outbox.py); no mocks."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from moderation.cases.services import case_claim_next
from moderation.enforcement.models import WebhookDelivery
from moderation.outbox.models import OutboxJob
from moderation.outbox.services import relay
from moderation.review.services import case_decide
from tests.moderation.outbox.test_outbox import REDIS_SERVER, RedisServer, free_port, work_queue


@pytest.fixture
def spare_redis(settings):
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port())
    settings.JOBS_EAGER = False
    settings.REDIS_URL = f"redis://127.0.0.1:{server.port}/0"
    yield server
    server.stop()


def decide_remove(reviewer, submit_report, item="post-1"):
    submit_report(category="spam", platform_id=item, owner_id="acct-1")
    case = case_claim_next(user=reviewer)
    case_decide(case_id=case.pk, user=reviewer, action="remove", policy="spam")


@pytest.mark.django_db
def test_receiver_down_ends_failed_and_listed_for_supervisors(
    client, supervisor, platform_down, decide
):
    from tests.moderation.webhook_receiver import drive_retries

    decide("remove")
    drive_retries()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.log.count() == 3
    client.force_login(supervisor)
    page = client.get("/supervise/deliveries/").content.decode()
    assert f"/supervise/deliveries/{delivery.pk}/" in page
    assert "refused" in page.lower()


@pytest.mark.django_db(transaction=True)
def test_a_decision_made_while_redis_is_down_is_delivered_once_it_is_back(
    spare_redis, platform, reviewer, submit_report
):
    # Redis is down (not started): the decision is recorded all the same, its delivery job
    # waits in the outbox.
    decide_remove(reviewer, submit_report)
    job = OutboxJob.objects.get(func="moderation.enforcement.jobs.deliver_action")
    assert job.enqueued_at is None
    assert WebhookDelivery.objects.get().status == "pending"
    assert platform.received == []

    spare_redis.start()
    assert relay(older_than=timedelta(0)) >= 1
    work_queue()
    assert WebhookDelivery.objects.get().status == "delivered"
    assert len(platform.received) == 1 and platform.received[0].signature_ok


@pytest.mark.django_db(transaction=True)
def test_a_delivery_job_redis_lost_is_queued_again_by_the_relay_loop(
    spare_redis, platform, reviewer, submit_report
):
    spare_redis.start()
    decide_remove(reviewer, submit_report)
    spare_redis.stop()  # keeps nothing on disk: the queued delivery job is gone
    spare_redis.start()
    work_queue()
    assert WebhookDelivery.objects.get().status == "pending"
    # Not yet: a job queued moments ago may simply be waiting for a worker.
    call_command("relay_outbox", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
    work_queue()
    assert WebhookDelivery.objects.get().status == "pending"
    # Long overdue: the relay loop's sweep queues it again.
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=6))
    call_command("relay_outbox", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
    work_queue()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered"
    assert len(platform.received) == 1
