"""Embedded mode (no Redis, no relay loop): an assembly whose in-process job died with the server
is queued again when someone opens the escalation list or asks for the next case, at most once a
minute per process."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from moderation.escalations.models import Escalation
from moderation.periodic import embedded as periodic
from tests.moderation.packet_helpers import approved

__all__ = ["approved"]


def stall(escalation, minutes=11):
    """As the server left it when it stopped mid-assembly: ASSEMBLING, no progress for a while."""
    Escalation.objects.filter(pk=escalation.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes), progress_step="Copying"
    )


@pytest.fixture
def embedded(settings):
    settings.JOBS_EAGER = True


@pytest.mark.django_db
class TestEmbeddedSweep:
    def test_it_assembles_a_stalled_escalation_when_the_list_is_opened(
        self, embedded, approved, client, supervisor, run_jobs
    ):
        escalation = approved()
        stall(escalation)
        client.force_login(supervisor)
        with run_jobs():
            assert client.get("/escalations/").status_code == 200
        escalation.refresh_from_db()
        assert escalation.status == "ready" and escalation.packet_sha256

    def test_review_next_sweeps_too(self, embedded, approved, client, reviewer, run_jobs):
        escalation = approved()
        stall(escalation)
        client.force_login(reviewer)
        with run_jobs():
            client.post("/review/next/")
        escalation.refresh_from_db()
        assert escalation.status == "ready"

    def test_it_sweeps_at_most_once_a_minute_and_leaves_live_assemblies_alone(
        self, embedded, approved, client, supervisor, run_jobs
    ):
        escalation = approved()
        client.force_login(supervisor)
        with run_jobs():
            client.get("/escalations/")  # swept: nothing stalled, a live assembly is left alone
        escalation.refresh_from_db()
        assert escalation.status == "assembling"

        stall(escalation)
        with run_jobs():
            client.get("/escalations/")
        escalation.refresh_from_db()
        assert escalation.status == "assembling"  # not again within the minute

        cache.delete("vigil:assembly-sweep")  # the minute is over
        with run_jobs():
            client.get("/escalations/")
        escalation.refresh_from_db()
        assert escalation.status == "ready"

    def test_with_redis_it_is_left_to_the_relay_loop(self, settings, approved):
        escalation = approved()
        stall(escalation)
        settings.JOBS_EAGER = False
        assert periodic.escalations_requeue_if_due() == 0
        escalation.refresh_from_db()
        # Not queued again (that would have marked it as moved on).
        assert escalation.updated_at < timezone.now() - timedelta(minutes=10)
