"""Links wait on a queue of their own, below the default one: a picture reported behind hundreds of
pending links is hashed (and matched against the banks) before them, since workers listen on
`high default links` in that order. In the embedded mode (no Redis) jobs run in-process as ever."""

import pytest
from django.conf import settings
from rq import SimpleWorker
from rq.job import Job

from lib.jobs import get_queue, job_path
from moderation.outbox.models import OutboxJob
from reports.jobs import fetch_link, hash_media
from reports.models import Link

needs_redis = pytest.mark.skipif(settings.JOBS_EAGER, reason="needs REDIS_URL")

# Row locks, commits and the jobs they release, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

# Not on the test-only allow-list: each fetch is refused at once (not a public address), so the
# links' jobs are quick and touch no network.
LINKS = [f"http://127.0.0.1:9/picture-{i}.png" for i in range(50)]


def jobs_of(func) -> list[Job]:
    connection = get_queue().connection
    ids = OutboxJob.objects.filter(func=job_path(func)).order_by("pk").values_list("pk", flat=True)
    return [Job.fetch(f"outbox-{pk}", connection=connection) for pk in ids]


def test_it_lists_the_links_queue_last():
    assert settings.RQ_QUEUE_NAMES == ("high", "default", "links")
    assert set(settings.RQ_QUEUES) == set(settings.RQ_QUEUE_NAMES)


@needs_redis
def test_it_puts_link_fetching_on_the_links_queue(submit_report):
    report = submit_report(category="grooming", links=LINKS[:3])

    links = get_queue("links")
    assert links.count == 3
    assert {job.func_name for job in links.get_jobs()} == {job_path(fetch_link)}
    assert set(
        OutboxJob.objects.filter(func=job_path(fetch_link)).values_list("queue", flat=True)
    ) == {"links"}
    for name in ("high", "default"):
        assert job_path(fetch_link) not in {job.func_name for job in get_queue(name).get_jobs()}
    assert report.content_item.links.count() == 3


@needs_redis
def test_a_picture_reported_behind_pending_links_is_hashed_first(submit_report, png_upload):
    submit_report(category="grooming", links=LINKS)
    media = submit_report(images=[png_upload()]).media.get()  # enqueued after the 50 links
    assert get_queue("links").count == 50
    assert job_path(hash_media) in {job.func_name for job in get_queue("default").get_jobs()}

    queues = [get_queue(name) for name in ("high", "default", "links")]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True)

    (hashed,) = jobs_of(hash_media)
    fetched = jobs_of(fetch_link)
    assert len(fetched) == 50
    assert hashed.is_finished and all(job.is_finished for job in fetched)
    assert hashed.ended_at <= min(job.started_at for job in fetched)
    media.refresh_from_db()
    assert media.hashed_at is not None
    assert set(Link.objects.values_list("status", flat=True)) == {Link.Status.REFUSED}


def test_in_the_embedded_mode_links_are_fetched_in_process(submit_report, settings):
    if not settings.JOBS_EAGER:
        pytest.skip("the embedded mode runs without REDIS_URL")
    report = submit_report(category="grooming", links=LINKS[:2])
    assert not OutboxJob.objects.exists()
    assert [link.status for link in report.content_item.links.all()] == [Link.Status.REFUSED] * 2
