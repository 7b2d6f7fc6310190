"""A packet carrying a video: the video's own bytes (checked on the way), its vPDQ beside it in
the reference tool's lines, the summary saying what it is, the same bytes when assembled again,
waiting for a video still being hashed, and the escalation page describing it."""

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from moderation.escalations.models import Escalation
from moderation.escalations.packet import EvidenceNotHashed, escalation_assemble
from reports.models import Media, VideoHash
from reports.vpdq import frames_from_text
from tests.moderation.packet_helpers import packet_bytes, packet_entries, packet_json
from tests.moderation.video_packet_helpers import approved_media, video

__all__ = ["approved_media"]


def assemble(escalation) -> Escalation:
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    return escalation


def the_media(escalation) -> Media:
    return Media.objects.get(content_item__cases__escalations=escalation)


@pytest.mark.django_db
class TestVideoPacket:
    def test_it_carries_the_video_received_and_its_vpdq_beside_it(self, approved_media):
        escalation = assemble(approved_media([[video()]]))
        assert escalation.status == "ready", escalation.failure_details
        media = the_media(escalation)
        [f] = escalation.files.all()
        assert f.name == f"files/0001-{media.sha256[:16]}.mp4"
        assert (f.sha256, f.md5, f.size) == (media.sha256, media.md5, media.size)
        entries = packet_entries(escalation)
        assert list(entries) == [
            "report.xml",
            "fileDetails/0001.xml",
            "vpdq/0001.txt",
            f.name,
            "summary.json",
            "manifest.json",
        ]
        with default_storage.open(media.file.name, "rb") as stored:
            assert entries[f.name] == stored.read()
        vpdq = VideoHash.objects.get(media=media)
        assert entries["vpdq/0001.txt"].decode() == vpdq.frames
        assert [frame.frame for frame in frames_from_text(vpdq.frames)] == [0, 10]
        listed = {e["name"]: e["sha256"] for e in packet_json(escalation, "manifest.json")["files"]}
        assert listed["vpdq/0001.txt"] == hashlib.sha256(entries["vpdq/0001.txt"]).hexdigest()
        assert listed[f.name] == media.sha256

    def test_it_says_what_the_video_is_in_the_summary(self, approved_media):
        escalation = assemble(approved_media([[video(width=96, height=64, frames=30, fps=10)]]))
        media = the_media(escalation)
        [entry] = packet_json(escalation, "summary.json")["files"]
        assert entry["kind"] == "video" and entry["mime"] == "video/mp4"
        assert (entry["width"], entry["height"]) == (96, 64)
        assert (entry["sha256"], entry["md5"]) == (media.sha256, media.md5)
        facts = entry["video"]
        assert (facts["container"], facts["codec"]) == ("mp4", "h264")
        assert facts["duration_seconds"] == pytest.approx(3.0, abs=0.15)
        assert facts["frame_rate"] == 10.0 and facts["rotation_degrees_clockwise"] == 0
        assert facts["description"].startswith("Video: MP4, H.264, 96 x 64 pixels, 3.0 seconds")
        assert facts["vpdq"] == {
            "file": "vpdq/0001.txt",
            "format": "vPDQ, one line per hashed frame: frame,quality,pdq,timestamp (seconds)",
            "frames": 3,
            "seconds_per_hash": 1.0,
            "stopped": "",
        }

    def test_it_gives_the_same_bytes_when_assembled_again(self, approved_media):
        escalation = assemble(approved_media([[video(), video("second.webm", "webm", "libvpx")]]))
        first = (escalation.packet_sha256, escalation.manifest, packet_bytes(escalation))
        default_storage.delete(escalation.packet.name)
        Escalation.objects.filter(pk=escalation.pk).update(status="assembling", packet_sha256="")
        escalation = assemble(escalation)
        assert (escalation.packet_sha256, escalation.manifest, packet_bytes(escalation)) == first

    def test_it_waits_for_a_video_still_being_hashed(self, approved_media):
        escalation = approved_media([[video()]])
        media = the_media(escalation)
        hashed_at = media.hashed_at
        # As if its hashing job were still running: no MD5 or vPDQ to put in the packet yet.
        Media.objects.filter(pk=media.pk).update(hashed_at=None)
        with pytest.raises(EvidenceNotHashed):
            escalation_assemble(escalation_id=escalation.pk)
        escalation.refresh_from_db()
        assert escalation.status == "assembling" and not escalation.files.exists()
        assert escalation.progress_step == "Waiting for the evidence to be hashed"
        Media.objects.filter(pk=media.pk).update(hashed_at=hashed_at)
        assert assemble(escalation).status == "ready"

    def test_it_fails_on_a_video_changed_in_storage(self, approved_media):
        escalation = approved_media([[video()]])
        media = the_media(escalation)
        path = default_storage.path(media.file.name)
        with open(path, "r+b") as stored:
            stored.seek(media.size // 2)
            stored.write(b"\x00\xff\x00\xff")
        escalation = assemble(escalation)
        assert escalation.status == "failed" and not escalation.packet_sha256
        assert "is corrupt" in escalation.failure_reason
        assert escalation.failure_details[0] == f"expected SHA-256 {media.sha256}"

    def test_it_describes_the_video_to_supervisors_on_the_escalation_page(
        self, approved_media, client, supervisor
    ):
        escalation = assemble(approved_media([[video(rotation=270)]]))
        client.force_login(supervisor)
        page = client.get(reverse("escalation_detail", args=[escalation.pk])).content.decode()
        assert (
            '<span data-testid="packet-video">Video: MP4, H.264, 64 x 48 pixels, 2.0 seconds at '
            "10 frames a second. A player turns the picture 270 degrees clockwise.</span>"
        ) in page
        assert '<span data-testid="viewed-by-esp">not viewed at the platform</span>' in page
