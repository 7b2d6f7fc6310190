"""fileViewedByEsp for a video comes from the log: true once a reviewer played all of it
(media.watched), through any copy of the same bytes; false when nobody did — its stills shown or
part of it played are not the file viewed — even when other files of the packet were looked at.
The XML, the summary and the page agree."""

import pytest
from django.urls import reverse
from lxml import etree

from moderation.audit.models import AuditEvent
from moderation.escalations.packet import escalation_assemble
from moderation.review.reveals import media_record_played, media_reveal
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


def watch(media, case, user, seconds: float | None = None) -> None:
    """Play a video in the case page's player: all of it unless `seconds` says how much."""
    reveal = media_reveal(media=media, case=case, user=user, shown="video", ip="10.0.0.9")
    played = media.duration if seconds is None else seconds
    media_record_played(media=media, case_id=case.pk, user=user, token=reveal.token, seconds=played)


@pytest.mark.django_db
class TestVideoViewedByEsp:
    def test_it_says_a_video_nobody_revealed_was_not_viewed(self, approved_media):
        escalation = assemble(approved_media([[video()]]))
        [f] = escalation.files.all()
        assert f.viewed_by_esp is False
        assert viewed_in_xml(escalation) == {f.name: "false"}
        assert packet_json(escalation, "summary.json")["files"][0]["viewed_by_esp"] is False

    def test_it_says_a_video_a_reviewer_played_through_was_viewed(self, approved_media, reviewer):
        escalation = approved_media([[video()]])
        [(media, case)] = media_of(escalation)
        watch(media, case, reviewer)
        escalation = assemble(escalation)
        [f] = escalation.files.all()
        assert f.viewed_by_esp is True
        assert viewed_in_xml(escalation) == {f.name: "true"}
        assert packet_json(escalation, "summary.json")["files"][0]["viewed_by_esp"] is True

    def test_it_does_not_count_its_stills_or_a_part_played(self, approved_media, reviewer):
        escalation = approved_media([[video()]])
        [(media, case)] = media_of(escalation)
        media_reveal(media=media, case=case, user=reviewer, shown="frames", ip=None)
        watch(media, case, reviewer, seconds=media.duration / 2)
        media_record_view(media=media, case=case, user=reviewer)  # a fetch of the file
        escalation = assemble(escalation)
        assert escalation.files.get().viewed_by_esp is False
        assert viewed_in_xml(escalation) == {escalation.files.get().name: "false"}

    def test_it_counts_the_whole_video_played_in_parts(self, approved_media, reviewer):
        escalation = approved_media([[video()]])
        [(media, case)] = media_of(escalation)
        reveal = media_reveal(media=media, case=case, user=reviewer, shown="video", ip=None)
        # The player reports its played total as it goes, and again as the page closes.
        for seconds in (0.5, 1.2, media.duration, media.duration):
            media_record_played(
                media=media, case_id=case.pk, user=reviewer, token=reveal.token, seconds=seconds
            )
        assert AuditEvent.objects.filter(verb="media.watched").count() == 1
        assert assemble(escalation).files.get().viewed_by_esp is True

    def test_it_counts_a_reveal_of_another_copy_of_the_same_video(self, approved_media, reviewer):
        clip = video()
        # The same video posted twice by the account: two cases, two media, one file.
        escalation = approved_media([[clip], [clip]])
        [(first, _), (second, second_case)] = media_of(escalation)
        assert first.sha256 == second.sha256
        watch(second, second_case, reviewer)
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
        watch(media, case, reviewer)
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
        watch(seen, case, reviewer)
        escalation = assemble(escalation)
        client.force_login(supervisor)
        page = client.get(reverse("escalation_detail", args=[escalation.pk])).content.decode()
        viewed = '<span data-testid="viewed-by-esp">viewed at the platform</span>'
        not_viewed = '<span data-testid="viewed-by-esp">not viewed at the platform</span>'
        assert page.count(viewed) == 1 and page.count(not_viewed) == 1
        assert page.index(viewed) < page.index(not_viewed)  # the first file is the one seen
