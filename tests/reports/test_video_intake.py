"""Videos through the API, the report form and the self-report form, and the hashing job."""

import base64
import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from moderation.audit.models import AuditEvent
from moderation.banks.models import HashBank, Match
from moderation.banks.services import bank_import
from reports.jobs import hash_media
from reports.models import Media, Report, VideoHash
from reports.vpdq import frames_from_text
from tests.api_helpers import auth, report_payload, token_for
from tests.testdata import VPDQ, vpdq_reference

DOORKNOB = (VPDQ / "videos" / "doorknob-hd-no-bar.mp4").read_bytes()


def video_payload(data=DOORKNOB, filename="clip.mp4", **overrides):
    media = [{"filename": filename, "data_base64": base64.b64encode(data).decode()}]
    return report_payload(media=media, **overrides)


def post(client, token, payload):
    return client.post(
        "/api/v1/reports", data=json.dumps(payload), content_type="application/json", **auth(token)
    )


@pytest.mark.django_db
class TestVideoThroughTheApi:
    def test_it_stores_a_video_privately_with_what_its_container_says(
        self, client, make_user, private_media
    ):
        r = post(client, token_for(make_user), video_payload())
        assert r.status_code == 201, r.content
        media = Media.objects.get()
        assert media.kind == "video" and media.is_video
        assert media.mime == "video/mp4"
        assert (media.container, media.codec) == ("mp4", "h264")
        assert (media.width, media.height) == (1280, 720)
        assert media.duration == pytest.approx(4.0, abs=0.05)
        assert media.frame_rate == 30.0
        assert media.rotation == 0
        assert media.sha256 == hashlib.sha256(DOORKNOB).hexdigest()
        stored = [p for p in private_media.rglob("*") if p.is_file()]
        assert [p.read_bytes() == DOORKNOB for p in stored] == [True]

    def test_a_video_named_as_another_type_gets_415(self, client, make_user):
        r = post(client, token_for(make_user), video_payload(filename="clip.webm"))
        assert r.status_code == 415
        assert r.json()["error"] == "media_type_mismatch"
        assert not Report.objects.exists()

    def test_an_mp4_called_mov_is_accepted(self, client, make_user):
        # One family of containers: the name is not a lie worth refusing evidence over.
        r = post(client, token_for(make_user), video_payload(filename="clip.mov"))
        assert r.status_code == 201, r.content

    def test_a_video_over_the_size_limit_gets_413(self, client, make_user, settings):
        settings.MAX_VIDEO_BYTES = len(DOORKNOB) - 1
        r = post(client, token_for(make_user), video_payload())
        assert r.status_code == 413
        assert r.json()["error"] == "file_too_large"
        assert "videos can be up to" in r.json()["detail"]["msg"]

    def test_a_video_over_the_duration_limit_gets_413(self, client, make_user, settings):
        settings.MAX_VIDEO_SECONDS = 3
        r = post(client, token_for(make_user), video_payload())
        assert r.status_code == 413
        assert r.json()["error"] == "video_too_long"

    def test_a_truncated_header_gets_a_clear_error(self, client, make_user):
        r = post(client, token_for(make_user), video_payload(data=DOORKNOB[:2000]))
        assert r.status_code in (415, 422)
        assert r.json()["error"] in ("not_an_image", "corrupt_video")
        assert not Report.objects.exists()


@pytest.mark.django_db
class TestVideoThroughTheForms:
    def form(self, **extra):
        return {
            "category": "csam",
            "content_url": "https://social.example/p/123",
            "involves_child": "on",
            **extra,
        }

    def test_the_report_form_takes_a_video(self, client):
        upload = SimpleUploadedFile("clip.mp4", DOORKNOB, content_type="video/mp4")
        r = client.post("/report/", self.form(images=upload))
        assert r.status_code == 302 and r.url.startswith("/report/received/")
        assert Media.objects.get().kind == "video"

    def test_the_self_report_form_takes_a_video(self, client):
        upload = SimpleUploadedFile("clip.mp4", DOORKNOB, content_type="video/mp4")
        r = client.post(
            "/report/self/",
            {"content_url": "https://social.example/p/1", "images": upload},
        )
        assert r.status_code == 302, r.content
        assert Media.objects.get().kind == "video"

    def test_the_form_says_why_a_video_is_refused(self, client, settings):
        settings.MAX_VIDEO_SECONDS = 3
        upload = SimpleUploadedFile("clip.mp4", DOORKNOB, content_type="video/mp4")
        r = client.post("/report/", self.form(images=upload))
        assert b"minutes are accepted" in r.content
        assert not Report.objects.exists()


@pytest.mark.django_db
class TestHashingAVideo:
    def submit(self, submit_report, name="doorknob-hd-no-bar"):
        from reports.media import inspect_media

        data = (VPDQ / "videos" / f"{name}.mp4").read_bytes()
        report = submit_report(images=[inspect_media(data, filename=f"{name}.mp4")])
        return report.media.get(), data

    def test_it_stores_the_exact_hashes_and_the_vpdq_of_one_frame_a_second(self, submit_report):
        media, data = self.submit(submit_report)
        hash_media(media.pk)
        media.refresh_from_db()
        assert media.hashed_at is not None and media.unhashable_reason == ""
        assert media.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
        assert media.duration == 4.0
        stored = VideoHash.objects.get(media=media)
        assert stored.seconds_per_hash == 1.0 and stored.frames_decoded == 120
        reference = {r[0]: r for r in vpdq_reference("doorknob-hd-no-bar")}
        frames = frames_from_text(stored.frames)
        assert [f.frame for f in frames] == [0, 30, 60, 90]
        assert all(f.pdq == reference[f.frame][2] for f in frames)
        event = AuditEvent.objects.get(verb="media.hashed")
        assert event.after["vpdq_frames"] == 4 and event.after["duration"] == 4.0
        assert event.after["vpdq_sha256"] == hashlib.sha256(stored.frames.encode()).hexdigest()

    def test_every_frame_when_the_settings_say_so(self, submit_report, settings):
        settings.VPDQ_SECONDS_PER_HASH = 0
        media, _ = self.submit(submit_report)
        hash_media(media.pk)
        assert len(frames_from_text(VideoHash.objects.get(media=media).frames)) == 120

    def test_running_it_twice_changes_nothing(self, submit_report):
        media, _ = self.submit(submit_report)
        hash_media(media.pk)
        first = VideoHash.objects.get(media=media).frames
        hash_media(media.pk)
        assert VideoHash.objects.get(media=media).frames == first
        assert AuditEvent.objects.filter(verb="media.hashed").count() == 1

    def test_a_video_md5_entry_matches_the_file(self, submit_report):
        bank = HashBank.objects.create(
            name="Known videos", slug="known-videos", signal_types=["video_md5"]
        )
        bank_import(
            bank=bank, text=f"video_md5 {hashlib.md5(DOORKNOB, usedforsecurity=False).hexdigest()}"
        )
        media, _ = self.submit(submit_report)
        hash_media(media.pk)
        match = Match.objects.get(media=media)
        assert (match.signal_type, match.distance) == ("video_md5", 0)

    def test_a_file_damaged_in_storage_is_not_hashed_but_said_so(self, submit_report):
        media, _ = self.submit(submit_report)
        with open(media.file.path, "r+b") as f:
            f.seek(5000)
            f.write(b"\0" * 100)
        hash_media(media.pk)
        media.refresh_from_db()
        assert media.unhashable_reason.startswith("stored file does not match")
        assert not VideoHash.objects.filter(media=media).exists()


def test_hash_media_prints_a_video_s_vpdq(capsys, settings):
    from django.core.management import call_command

    settings.VPDQ_SECONDS_PER_HASH = 1
    video = VPDQ / "videos" / "doorknob-hd-no-bar.mp4"
    call_command("hash_media", str(video))
    call_command("hash_media", "--every-frame", str(video))
    sampled, every = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert set(sampled) == {"file", "sha256", "md5", "duration", "vpdq"}
    assert sampled["sha256"] == hashlib.sha256(DOORKNOB).hexdigest()
    assert sampled["duration"] == 4.0
    assert [f["frame"] for f in sampled["vpdq"]] == [0, 30, 60, 90]
    reference = vpdq_reference("doorknob-hd-no-bar")
    assert [(f["frame"], f["quality"], f["pdq"], f["timestamp"]) for f in every["vpdq"]] == [
        (frame, quality, pdq, timestamp) for frame, quality, pdq, timestamp in reference
    ]


def test_hash_media_says_when_a_file_is_neither(capsys, tmp_path):
    from django.core.management import call_command

    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    call_command("hash_media", str(junk))
    line = json.loads(capsys.readouterr().out)
    assert line["unhashable"] == "not an image or a video Vigil can read"
    assert line["md5"] == hashlib.md5(junk.read_bytes(), usedforsecurity=False).hexdigest()
