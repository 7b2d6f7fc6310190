"""A report accepted while Redis is down keeps its job, which runs once Redis is back.

This stops and restarts a real redis-server on a spare port: no mocks.
"""

import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from moderation.outbox.models import OutboxJob
from moderation.outbox.services import relay
from reports.models import Media

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, port: int):
        self.port, self.process = port, None

    def start(self):
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def spare_redis(settings):
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port())
    settings.JOBS_EAGER = False
    settings.REDIS_URL = f"redis://127.0.0.1:{server.port}/0"
    yield server
    server.stop()


def work_queue():
    from rq import SimpleWorker

    from lib.jobs import get_queue

    queue = get_queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


@pytest.mark.django_db(transaction=True)
def test_nothing_is_lost_while_redis_is_down(spare_redis, submit_report, png_upload):
    # Redis is down (never started): the report is accepted all the same.
    report = submit_report(images=[png_upload()])
    media = report.media.get()
    job = OutboxJob.objects.get()
    assert job.enqueued_at is None and job.attempts == 1 and job.last_error
    assert job.func == "reports.jobs.hash_media" and job.args == [media.pk]

    # A relay pass while Redis is still down changes nothing and loses nothing.
    assert relay(older_than=timedelta(0)) == 0
    assert OutboxJob.objects.get().enqueued_at is None

    # Redis comes back: the relay hands the job over and a worker runs it.
    spare_redis.start()
    assert relay(older_than=timedelta(0)) == 1
    work_queue()
    media.refresh_from_db()
    assert media.hashed_at is not None and media.md5
    assert OutboxJob.objects.get().enqueued_at is not None
    # Handed over once: a second pass finds nothing to do.
    assert relay(older_than=timedelta(0)) == 0


@pytest.mark.django_db(transaction=True)
def test_with_redis_up_the_job_goes_straight_to_the_queue(spare_redis, submit_report, png_upload):
    spare_redis.start()
    media = submit_report(images=[png_upload()]).media.get()
    assert OutboxJob.objects.get().enqueued_at is not None
    work_queue()
    media.refresh_from_db()
    assert media.hashed_at is not None


@pytest.mark.django_db(transaction=True)
def test_jobs_redis_lost_in_a_restart_are_found_and_run_again(
    spare_redis, submit_report, png_upload
):
    from reports.services import media_requeue_unhashed

    spare_redis.start()
    first = submit_report(images=[png_upload()]).media.get()
    spare_redis.stop()  # keeps nothing on disk: the queued job is gone
    second = submit_report(images=[png_upload(colour=(5, 5, 5))]).media.get()
    spare_redis.start()
    assert relay(older_than=timedelta(0)) == 1  # the job that never reached Redis
    # The lost one is found by what it left undone: media still unhashed. Not yet, though: a
    # job queued moments ago may simply be waiting for a worker.
    assert media_requeue_unhashed(older_than=timedelta(minutes=10)) == 0
    OutboxJob.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    Media.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert media_requeue_unhashed(older_than=timedelta(minutes=10)) == 2
    work_queue()
    for media in (first, second):
        media.refresh_from_db()
        assert media.hashed_at is not None


def test_the_relay_command_refuses_to_run_without_redis(settings):
    from django.core.management import CommandError, call_command

    settings.JOBS_EAGER = True
    with pytest.raises(CommandError, match="no outbox"):
        call_command("relay_outbox", "--once")


@pytest.mark.django_db(transaction=True)
def test_a_long_job_goes_to_redis_with_its_own_timeout(spare_redis):
    from django.db import transaction

    from lib.jobs import get_queue
    from moderation.banks.jobs import LONG_JOB_SECONDS, take_index_snapshot
    from moderation.outbox.services import enqueue
    from reports.jobs import hash_media

    spare_redis.start()
    with transaction.atomic():
        enqueue(take_index_snapshot, "pdq")
        enqueue(hash_media, 1)
    snapshot, hashing = (
        get_queue().fetch_job(f"outbox-{pk}")
        for pk in OutboxJob.objects.order_by("pk").values_list("pk", flat=True)
    )
    assert snapshot.timeout == LONG_JOB_SECONDS
    assert hashing.timeout < LONG_JOB_SECONDS  # the queue's default
