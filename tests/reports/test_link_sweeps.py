"""Links whose fetch was lost or must be tried again are queued again: by relay_outbox's sweep
with Redis, by the serving process's background thread in the embedded mode."""

import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from reports.links import EMBEDDED_LINK_RETRIES
from reports.models import Link
from tests.reports.test_link_fetch import new_link


@pytest.fixture
def stale_link(submit_report):
    report = submit_report(category="grooming")
    link = new_link(report, "https://files.example/a.jpg", queue=False)
    Link.objects.filter(pk=link.pk).update(created_at=timezone.now() - timedelta(hours=1))
    return link


@pytest.mark.django_db
def test_the_serving_process_tries_pending_links_again_in_the_embedded_mode(stale_link, run_jobs):
    from config import wsgi

    assert EMBEDDED_LINK_RETRIES in wsgi.TASKS
    if not settings.JOBS_EAGER:
        pytest.skip("the embedded mode's background thread")
    with run_jobs():
        EMBEDDED_LINK_RETRIES.work()
    stale_link.refresh_from_db()
    # Tried (the name does not resolve here): refused, with the reason.
    assert stale_link.attempts == 1 and stale_link.status == "refused"
    assert "does not resolve" in stale_link.error


@pytest.mark.django_db
def test_the_relay_sweep_queues_links_whose_job_was_lost(stale_link):
    if settings.JOBS_EAGER:
        pytest.skip("relay_outbox runs with Redis")
    out = io.StringIO()
    call_command("relay_outbox", "--once", stdout=out)
    assert "queued fetching again for 1 links" in out.getvalue()
