"""The embedded mode's in-process scheduling runs before the pages that need it, and only for a
request those pages would serve."""

import pytest
from django.core.cache import cache

WAITING, SWEEP, HOURS = "vigil:waiting-refresh", "vigil:assembly-sweep", "vigil:queue-hours-refresh"


@pytest.fixture(autouse=True)
def embedded(settings):
    settings.JOBS_EAGER = True
    cache.delete_many([WAITING, SWEEP, HOURS])


def ran(*keys) -> list[bool]:
    return [cache.get(k) is not None for k in keys]


@pytest.mark.django_db
class TestEmbeddedScheduler:
    def test_review_next_brings_waiting_time_up_to_date_first(self, client, reviewer):
        client.force_login(reviewer)
        client.post("/review/next/")
        assert ran(WAITING, SWEEP) == [True, True]

    def test_the_escalation_list_sweeps_stalled_assemblies(self, client, reviewer):
        client.force_login(reviewer)
        client.get("/escalations/")
        assert ran(WAITING, SWEEP) == [False, True]

    def test_queue_health_rebuilds_its_recent_hours(self, client, supervisor):
        client.force_login(supervisor)
        client.get("/supervise/queues/")
        assert ran(HOURS) == [True]

    def test_someone_the_page_refuses_sets_nothing_going(self, client, django_user_model):
        nobody = django_user_model.objects.create_user("nobody", password="x")
        client.force_login(nobody)
        assert client.get("/review/next/").status_code in (403, 405)
        assert client.get("/escalations/").status_code == 403
        assert client.get("/supervise/queues/").status_code == 403
        assert ran(WAITING, SWEEP, HOURS) == [False, False, False]

    def test_a_method_the_page_refuses_sets_nothing_going(self, client, reviewer):
        client.force_login(reviewer)
        assert client.get("/review/next/").status_code == 405
        assert ran(WAITING, SWEEP) == [False, False]

    def test_with_redis_the_periodic_chain_does_it_instead(self, client, reviewer, settings):
        settings.JOBS_EAGER = False
        client.force_login(reviewer)
        client.get("/escalations/")
        assert ran(SWEEP) == [False]
