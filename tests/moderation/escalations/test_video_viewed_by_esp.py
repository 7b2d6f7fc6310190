"""fileViewedByEsp for a video comes from the media-view log, as an image's does: true once a
reviewer revealed (played) it, through any copy of the same bytes; false when nobody did, even
when other files of the packet were looked at. The XML, the summary and the page agree."""

import pytest
from django.urls import reverse
from lxml import etree

from moderation.escalations.packet import escalation_assemble
from moderation.review.services import media_record_view
from tests.moderation.packet_helpers import packet_entries, packet_json
from tests.moderation.video_packet_helpers import approved_media, image, video

__all__ = ["approved_media"]


def assemble(escalation):
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    assert escalation.status == "ready", escalation.failure_details
    return escalation


def viewed_in_xml(escalation) -> dict[str, str]:
    """{file name in the packet: fileViewedByEsp} from each fileDetails."""
    out = {}
    for name, data in packet_entries(escalation).items():
        if name.startswith("fileDetails/"):
            root = etree.fromstring(data)
            out[root.findtext("fileId")] = root.findtext("fileViewedByEsp")
    return out


def media_of(escalation):
    """The escalation's media, in the order its cases and media arrived, with their case."""
    return [
        (m, case)
        for case in escalation.cases.order_by("pk")
        for m in case.content_item.media.order_by("pk")
    ]


@pytest.mark.django_db
class TestVideoViewedByEsp:
    def test_it_says_a_video_nobody_revealed_was_not_viewed(self, approved_media):
        escalation = assemble(approved_media([[video()]]))
        [f] = escalation.files.all()
        assert f.viewed_by_esp is False
        assert viewed_in_xml(escalation) == {f.name: "false"}
        assert packet_json(escalation, "summary.json")["files"][0]["viewed_by_esp"] is False

    def test_it_says_a_video_a_reviewer_revealed_was_viewed(self, approved_media, reviewer):
        escalation = approved_media([[video()]])
        [(media, case)] = media_of(escalation)
        media_record_view(media=media, case=case, user=reviewer, ip="10.0.0.9")
        escalation = assemble(escalation)
        [f] = escalation.files.all()
        assert f.viewed_by_esp is True
        assert viewed_in_xml(escalation) == {f.name: "true"}
        assert packet_json(escalation, "summary.json")["files"][0]["viewed_by_esp"] is True

    def test_it_counts_a_reveal_of_another_copy_of_the_same_video(self, approved_media, reviewer):
        clip = video()
        # The same video posted twice by the account: two cases, two media, one file.
        escalation = approved_media([[clip], [clip]])
        [(first, _), (second, second_case)] = media_of(escalation)
        assert first.sha256 == second.sha256
        media_record_view(media=second, case=second_case, user=reviewer)
        escalation = assemble(escalation)
        [f] = escalation.files.all()
        assert f.media_id == first.pk and f.viewed_by_esp is True
        assert viewed_in_xml(escalation) == {f.name: "true"}

    def test_it_does_not_count_a_view_of_the_image_beside_the_video(self, approved_media, reviewer):
        escalation = approved_media([[image(), video()]])
        [(picture, case), (clip, _)] = media_of(escalation)
        assert (picture.kind, clip.kind) == ("image", "video")
        media_record_view(media=picture, case=case, user=reviewer)
        escalation = assemble(escalation)
        files = {f.media_id: f for f in escalation.files.all()}
        assert files[picture.pk].viewed_by_esp is True and files[clip.pk].viewed_by_esp is False
        assert viewed_in_xml(escalation) == {
            files[picture.pk].name: "true",
            files[clip.pk].name: "false",
        }

    def test_it_leaves_the_packet_as_assembled_after_a_later_reveal(self, approved_media, reviewer):
        escalation = assemble(approved_media([[video()]]))
        sha = escalation.packet_sha256
        [(media, case)] = media_of(escalation)
        media_record_view(media=media, case=case, user=reviewer)
        # What the approver approved and the packet says stays as it was.
        assert escalation_assemble(escalation_id=escalation.pk) is None
        escalation.refresh_from_db()
        assert escalation.packet_sha256 == sha
        assert viewed_in_xml(escalation) == {escalation.files.get().name: "false"}

    def test_it_says_on_the_page_which_files_were_viewed(
        self, approved_media, reviewer, client, supervisor
    ):
        escalation = approved_media([[video(), video("other.webm", "webm", "libvpx")]])
        [(seen, case), _] = media_of(escalation)
        media_record_view(media=seen, case=case, user=reviewer)
        escalation = assemble(escalation)
        client.force_login(supervisor)
        page = client.get(reverse("escalation_detail", args=[escalation.pk])).content.decode()
        viewed = '<span data-testid="viewed-by-esp">viewed at the platform</span>'
        not_viewed = '<span data-testid="viewed-by-esp">not viewed at the platform</span>'
        assert page.count(viewed) == 1 and page.count(not_viewed) == 1
        assert page.index(viewed) < page.index(not_viewed)  # the first file is the one seen
