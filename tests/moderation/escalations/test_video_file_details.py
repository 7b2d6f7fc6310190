"""A video's fileDetails in the packet: valid against the CyberTipline schema, its MD5 and SHA-256
as the schema's originalFileHash (no PDQ: that is an image's), what the video is in the one
free-text element the schema has for a file (it has no video elements), and its vPDQ kept out
of the XML (it travels beside it in the packet)."""

import pytest
from lxml import etree

from moderation.escalations.packet import escalation_assemble
from reports.models import Media, VideoHash
from tests.moderation.packet_helpers import packet_entries
from tests.moderation.video_packet_helpers import approved_media, schema_errors, video

__all__ = ["approved_media"]


def assembled(escalation):
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    assert escalation.status == "ready", (escalation.failure_reason, escalation.failure_details)
    return escalation


def file_details(escalation, n=1) -> bytes:
    return packet_entries(escalation)[f"fileDetails/{n:04d}.xml"]


def the_media(escalation) -> Media:
    return Media.objects.get(content_item__cases__escalations=escalation)


@pytest.mark.django_db
class TestVideoFileDetails:
    def test_it_is_valid_against_the_schema_with_the_videos_hashes(self, approved_media):
        escalation = assembled(approved_media([[video()]]))
        media = the_media(escalation)
        xml = file_details(escalation)
        assert schema_errors(xml) == []
        root = etree.fromstring(xml)
        hashes = {h.get("hashType"): h.text for h in root.findall("originalFileHash")}
        assert media.md5 and media.sha256 and media.kind == "video"
        assert hashes == {"MD5": media.md5, "SHA256": media.sha256}
        assert root.findtext("fileName").endswith(".mp4")
        assert root.findtext("fileViewedByEsp") == "false"
        assert root.findtext("exifViewedByEsp") == "false"
        assert root.findtext("industryClassification") == "A1"
        assert root.findtext("potentialMeme") == "false"
        assert root.findtext("locationOfFile") == media.content_item.url

    def test_it_says_what_the_video_is_in_its_additional_info(self, approved_media):
        escalation = assembled(approved_media([[video(width=96, height=64, frames=25, fps=10)]]))
        media = the_media(escalation)
        assert media.duration == pytest.approx(2.5, abs=0.15)
        root = etree.fromstring(file_details(escalation))
        [info] = [e.text for e in root.findall("additionalInfo")]
        assert info == (
            f"Video: MP4, H.264, 96 x 64 pixels, {media.duration:.1f} seconds at 10 frames a "
            "second."
        )

    def test_it_says_how_a_player_turns_a_rotated_video(self, approved_media):
        escalation = assembled(approved_media([[video(rotation=90)]]))
        assert the_media(escalation).rotation == 90
        xml = file_details(escalation)
        assert schema_errors(xml) == []
        [info] = [e.text for e in etree.fromstring(xml).findall("additionalInfo")]
        assert info.endswith("A player turns the picture 90 degrees clockwise.")

    @pytest.mark.parametrize(
        "name, container, codec, extension, words",
        [
            ("clip.webm", "webm", "libvpx-vp9", ".webm", "WebM, VP9"),
            ("clip.mkv", "mkv", "libx264", ".mkv", "Matroska (MKV), H.264"),
            ("clip.avi", "avi", "mpeg4", ".avi", "AVI, MPEG-4 Part 2"),
            ("clip.mov", "mov", "libx264", ".mov", "QuickTime (MOV), H.264"),
        ],
    )
    def test_it_names_and_describes_each_container_by_its_type(
        self, approved_media, name, container, codec, extension, words
    ):
        escalation = assembled(approved_media([[video(name, container, codec)]]))
        xml = file_details(escalation)
        assert schema_errors(xml) == []
        root = etree.fromstring(xml)
        assert root.findtext("fileName").endswith(extension)
        assert root.findtext("additionalInfo").startswith(f"Video: {words}, 64 x 48 pixels")

    def test_it_keeps_the_vpdq_out_of_the_xml(self, approved_media):
        escalation = assembled(approved_media([[video()]]))
        xml = file_details(escalation)
        root = etree.fromstring(xml)
        frames = VideoHash.objects.get(media=the_media(escalation)).frames.splitlines()
        assert frames
        for line in frames:
            assert line.split(",")[2].encode() not in xml
        assert [h.get("hashType") for h in root.findall("originalFileHash")] == ["MD5", "SHA256"]
        assert root.find("details") is None
