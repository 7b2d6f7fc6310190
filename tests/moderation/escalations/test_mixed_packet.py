"""A packet with images and videos from several cases: every file in case and arrival order with
its own fileDetails (each valid against the CyberTipline schema, each with the hashes of its
kind), a vPDQ beside each video, a summary that tells them apart; and the same packet submitted
through the (fake) CyberTipline API, every file arriving whole with its fileDetails."""

import pytest
from django.core.files.storage import default_storage
from lxml import etree

from accounts.roles import Role
from moderation.escalations import submission
from moderation.escalations.packet import escalation_assemble
from tests.moderation.packet_helpers import packet_entries, packet_json
from tests.moderation.video_packet_helpers import (
    approved_media,
    fake_cybertip,
    image,
    schema_errors,
    video,
)

__all__ = ["approved_media", "fake_cybertip"]


@pytest.fixture
def mixed(approved_media):
    """Case 1: an image and an MP4; case 2: a WebM and another image. Assembled."""
    escalation = approved_media(
        [
            [image("a.png", (10, 20, 30)), video("a.mp4")],
            [video("b.webm", "webm", "libvpx-vp9", width=80), image("b.png", (200, 0, 90))],
        ]
    )
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    assert escalation.status == "ready", escalation.failure_details
    return escalation


def hashes(root) -> dict[str, str]:
    return {h.get("hashType"): h.text for h in root.findall("originalFileHash")}


@pytest.mark.django_db
class TestMixedPacket:
    def test_it_packs_images_and_videos_in_order_each_with_valid_file_details(self, mixed):
        files = list(mixed.files.select_related("media").order_by("name"))
        assert [(f.media.kind, f.name.rsplit(".", 1)[1]) for f in files] == [
            ("image", "png"),
            ("video", "mp4"),
            ("video", "webm"),
            ("image", "png"),
        ]
        entries = packet_entries(mixed)
        assert list(entries) == [
            "report.xml",
            *[f"fileDetails/{n:04d}.xml" for n in range(1, 5)],
            "vpdq/0002.txt",
            "vpdq/0003.txt",
            *[f.name for f in files],
            "summary.json",
            "manifest.json",
        ]
        assert schema_errors(entries["report.xml"]) == []
        for n, f in enumerate(files, start=1):
            xml = entries[f"fileDetails/{n:04d}.xml"]
            assert schema_errors(xml) == [], xml.decode()
            root = etree.fromstring(xml)
            assert root.findtext("fileId") == f.name
            if f.media.kind == "image":
                assert hashes(root) == {"MD5": f.md5, "SHA256": f.sha256, "PDQ": f.media.pdq}
                assert root.find("additionalInfo") is None
            else:
                assert hashes(root) == {"MD5": f.md5, "SHA256": f.sha256}
                assert root.findtext("additionalInfo").startswith("Video: ")
            with default_storage.open(f.media.file.name, "rb") as stored:
                assert entries[f.name] == stored.read()

    def test_it_tells_images_and_videos_apart_in_the_summary(self, mixed):
        summary = packet_json(mixed, "summary.json")["files"]
        assert [(f["kind"], f["mime"]) for f in summary] == [
            ("image", "image/png"),
            ("video", "video/mp4"),
            ("video", "video/webm"),
            ("image", "image/png"),
        ]
        assert ["video" in f for f in summary] == [False, True, True, False]
        assert [f["video"]["vpdq"]["file"] for f in summary if "video" in f] == [
            "vpdq/0002.txt",
            "vpdq/0003.txt",
        ]
        assert summary[2]["video"]["codec"] == "vp9" and summary[2]["width"] == 80

    def test_it_is_submitted_whole_through_the_cybertipline_api(
        self, mixed, fake_cybertip, make_user, run_jobs
    ):
        with run_jobs():
            submission.escalation_submit(
                escalation_id=mixed.pk, user=make_user("sue", Role.SUPERVISOR)
            )
        mixed.refresh_from_db()
        assert mixed.status == "submitted", mixed.failure_reason
        remote = fake_cybertip.reports[mixed.report_id]
        assert remote.finished
        files = list(mixed.files.select_related("media").order_by("name"))
        assert len(remote.files) == len(files) == 4
        for f in files:
            sent = remote.files[f.remote_file_id]
            with default_storage.open(f.media.file.name, "rb") as stored:
                assert sent["data"] == stored.read()
            # Checked against the schema by the fake as it arrived; built with NCMEC's ids.
            root = etree.fromstring(sent["details"])
            assert root.findtext("reportId") == str(mixed.report_id)
            assert root.findtext("fileId") == f.remote_file_id
            assert hashes(root)["SHA256"] == f.sha256 and hashes(root)["MD5"] == f.md5
            if f.media.kind == "video":
                assert "PDQ" not in hashes(root)
                assert root.findtext("additionalInfo").startswith("Video: ")
                assert sent["name"] == f.name.removeprefix("files/")
