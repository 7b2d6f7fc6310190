import hashlib

import pytest

from moderation.audit.models import AuditEvent
from reports.jobs import hash_media
from reports.models import Media
from tests.conftest import png_bytes
from tests.rqworker import needs_real_worker, run_burst_worker


@pytest.mark.django_db
class TestHashMediaJob:
    def test_it_stores_sha256_and_md5(self, submit_report, png_upload):
        report = submit_report(images=[png_upload()])
        media = report.media.get()
        hash_media(media.pk)
        media.refresh_from_db()
        assert media.sha256 == hashlib.sha256(png_bytes()).hexdigest()
        assert media.md5 == hashlib.md5(png_bytes(), usedforsecurity=False).hexdigest()
        assert media.size == len(png_bytes())
        assert media.hashed_at is not None

    def test_running_it_twice_changes_nothing(self, submit_report, png_upload):
        media = submit_report(images=[png_upload()]).media.get()
        hash_media(media.pk)
        first = Media.objects.get(pk=media.pk)
        hash_media(media.pk)
        second = Media.objects.get(pk=media.pk)
        assert second.hashed_at == first.hashed_at
        assert AuditEvent.objects.filter(verb="media.hashed").count() == 1

    def test_it_runs_after_commit_through_the_configured_queue(
        self, submit_report, png_upload, run_jobs
    ):
        with run_jobs():
            media = submit_report(images=[png_upload()]).media.get()
        media.refresh_from_db()
        assert media.sha256


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_rqworker_process_hashes_the_upload(submit_report, png_upload, private_media):
    media = submit_report(images=[png_upload()]).media.get()
    assert media.hashed_at is None  # queued in Redis, not run here

    run_burst_worker(PRIVATE_MEDIA_ROOT=str(private_media))
    media.refresh_from_db()
    assert media.sha256 == hashlib.sha256(png_bytes()).hexdigest()
    assert AuditEvent.objects.filter(verb="media.hashed", object_id=str(media.pk)).exists()
