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

    def test_it_hashes_an_image_in_a_fixed_number_of_statements(
        self, submit_report, png_upload, django_assert_max_num_queries
    ):
        # Per image, every statement is a round trip a worker waits for (bench/pipeline.py):
        # reading the media, the bank version with the lock held while matching (and its
        # release), matching its exact hashes (one query), the transaction (the media and its
        # case locked, the row, the cluster lock, hashed_at, the cluster, the audit event).
        from moderation.banks.matching import warm_indexes
        from moderation.banks.models import HashBank
        from moderation.banks.services import bank_import

        bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq", "md5"])
        bank_import(bank=bank, text="md5 " + "ab" * 16)
        warm_indexes()  # as a worker keeps them
        hash_media(submit_report(images=[png_upload()]).media.get().pk)  # the lock's row made
        media = submit_report(images=[png_upload()]).media.get()
        # Thirteen on PostgreSQL, two of them the test's own savepoint around the transaction.
        with django_assert_max_num_queries(13):
            hash_media(media.pk)

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
