"""moderation/banks/strips.py: a video's strip of stills, made by a job after hashing (or when a
case page asks), stored privately, idempotent, shared by copies of the same file, and recorded
(with why) when a damaged file gives fewer stills or none."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from moderation.audit.models import AuditEvent
from moderation.banks.strips import media_make_strip, media_request_strip
from moderation.outbox.models import OutboxJob
from moderation.outbox.services import relay
from reports.media import inspect_media
from reports.models import Media, VideoStrip
from tests.videos import make_video

VIDEOS = Path(__file__).resolve().parents[2] / "data" / "vpdq" / "videos"


@pytest.fixture
def submit_video(submit_report):
    def submit(data: bytes | None = None, name: str = "clip.mp4", **fields):
        data = data if data is not None else make_video("mp4", frames=30, fps=10)
        report = submit_report(images=[inspect_media(data, filename=name)], **fields)
        return report.media.get()

    return submit


@pytest.mark.django_db
class TestMakingAStrip:
    def test_the_hashing_job_has_the_stills_made_after_it(self, submit_video, run_jobs):
        with run_jobs():
            media = submit_video((VIDEOS / "doorknob-hd-no-bar.mp4").read_bytes())
        # With Redis, the strip job waits in the outbox for the hashing job's commit, which this
        # test's transaction never makes: hand it over as that commit would.
        while OutboxJob.objects.filter(enqueued_at__isnull=True).exists():
            with run_jobs():
                relay()
        strip = VideoStrip.objects.get(media=media)
        assert strip.ready and len(strip.timestamps) == 16
        assert (strip.tile_width, strip.tile_height) == (160, 90)
        with default_storage.open(strip.file.name) as f:
            assert Image.open(f).size == (16 * 160, 90)
        assert strip.file.name == f"strips/{media.file.name}.jpg"
        event = AuditEvent.objects.get(verb="media.strip_made")
        assert event.object_id == str(media.pk) and event.case_id == media.report.case_id
        assert event.after["stills"] == 16

    def test_the_hashing_job_picks_the_stills_as_it_decodes(self, submit_video):
        from moderation.banks.hashing import media_hash

        media = submit_video((VIDEOS / "chair-19-sd-bar.mp4").read_bytes())
        media_hash(media_id=media.pk)
        strip = VideoStrip.objects.get(media=media)
        assert strip.ready and len(strip.timestamps) == 16
        # Made in the hashing pass: no job to decode the video again.
        assert not OutboxJob.objects.filter(func__contains="make_strip").exists()
        assert AuditEvent.objects.filter(verb="media.strip_made").count() == 1

    def test_it_is_idempotent(self, submit_video):
        media = submit_video()
        first = media_make_strip(media_id=media.pk)
        made_at = first.made_at
        again = media_make_strip(media_id=media.pk)
        assert again.made_at == made_at and again.file.name == first.file.name
        assert AuditEvent.objects.filter(verb="media.strip_made").count() == 1

    def test_a_copy_of_the_same_file_shares_its_strip(self, submit_video):
        data = make_video("mp4", frames=30, fps=10)
        one = media_make_strip(media_id=submit_video(data).pk)
        other = media_make_strip(media_id=submit_video(data, content_url="https://x.example/2").pk)
        assert other.file.name == one.file.name and other.timestamps == one.timestamps
        assert AuditEvent.objects.filter(verb="media.strip_made").count() == 2

    def test_an_image_has_no_strip(self, submit_report, png_upload):
        report = submit_report(images=[png_upload()])
        assert media_make_strip(media_id=report.media.get().pk) is None
        assert not VideoStrip.objects.exists()

    def test_a_file_damaged_in_storage_gives_the_stills_that_decode(
        self, submit_video, private_media
    ):
        data = (VIDEOS / "chair-19-sd-bar.mp4").read_bytes()
        media = submit_video(data)
        (private_media / media.file.name).write_bytes(data[: len(data) // 2])
        strip = media_make_strip(media_id=media.pk)
        assert strip.ready and 4 <= len(strip.timestamps) < 16
        assert strip.stopped
        assert AuditEvent.objects.get(verb="media.strip_made").after["stopped"] == strip.stopped

    def test_a_file_that_no_longer_decodes_is_recorded_without_stills(
        self, submit_video, private_media
    ):
        media = submit_video()
        (private_media / media.file.name).write_bytes(b"garbage" * 100)
        strip = media_make_strip(media_id=media.pk)
        assert strip.made_at is not None and not strip.ready
        assert strip.stopped == "not a video FFmpeg can read" and not strip.file
        # Recorded: not made again and again.
        assert media_make_strip(media_id=media.pk).made_at == strip.made_at

    def test_a_file_missing_from_storage_is_recorded_without_stills(
        self, submit_video, private_media
    ):
        media = submit_video()
        (private_media / media.file.name).unlink()
        strip = media_make_strip(media_id=media.pk)
        assert strip.stopped == "the video is missing from storage" and not strip.ready


@pytest.mark.django_db
class TestAskingForAStrip:
    def test_a_page_that_finds_none_has_it_made(self, submit_video, run_jobs):
        media = submit_video()  # not hashed: no strip asked for yet
        with run_jobs():
            strip = media_request_strip(media_id=media.pk)
        strip.refresh_from_db()
        assert strip.ready

    def test_it_is_asked_for_once_and_again_only_when_the_job_looks_lost(
        self, submit_video, django_capture_on_commit_callbacks
    ):
        media = submit_video()
        with django_capture_on_commit_callbacks() as asked:
            media_request_strip(media_id=media.pk)
            media_request_strip(media_id=media.pk)
        assert len(asked) == 1
        VideoStrip.objects.filter(media=media).update(
            requested_at=timezone.now() - timedelta(minutes=3)
        )
        with django_capture_on_commit_callbacks() as asked:
            strip = media_request_strip(media_id=media.pk)
        assert len(asked) == 1 and strip.requested_at > timezone.now() - timedelta(minutes=1)

    def test_a_made_strip_is_not_asked_for_again(
        self, submit_video, django_capture_on_commit_callbacks
    ):
        media = submit_video()
        media_make_strip(media_id=media.pk)
        VideoStrip.objects.filter(media=media).update(
            requested_at=timezone.now() - timedelta(hours=1)
        )
        with django_capture_on_commit_callbacks() as asked:
            assert media_request_strip(media_id=media.pk).ready
        assert asked == []
        assert Media.objects.get(pk=media.pk).video_strip.ready
