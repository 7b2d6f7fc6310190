"""Revealing a video's stills or player (case_media_reveal): the click is the view, logged once
with what was shown and counted as an exposure; the answer is the strip or the player, blurred
and greyscale as the reviewer's preferences say, whose file URL carries the reveal's token."""

import re

import pytest

from accounts.models import ExposureEvent, ReviewerPreferences
from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Queue
from reports.models import VideoStrip
from tests.moderation.review.video_helpers import matched, media_url, reveal, video_case


def views():
    return AuditEvent.objects.filter(verb="media.viewed")


@pytest.mark.django_db
class TestRevealingTheStills:
    def test_it_logs_one_view_and_answers_the_strip_blurred_and_greyscale(
        self, client, reviewer, submit_report
    ):
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        r, token = reveal(client, case, media, "frames")
        assert r.status_code == 200
        html = r.content.decode()
        assert "--media-filter: blur(16px) grayscale(1)" in html
        assert f"{media_url(case, media, 'frames/')}?reveal={token}" in html
        strip = VideoStrip.objects.get(media=media)
        assert html.count('class="still-img"') == len(strip.timestamps)
        assert "Still at 0:00.0" in html
        (event,) = views()
        assert (event.actor, event.after, event.case_id) == (reviewer, {"shown": "frames"}, case.pk)
        exposure = ExposureEvent.objects.get(user=reviewer)
        assert exposure.kind == "reveal" and exposure.video and exposure.seconds_played is None

    def test_it_follows_the_reviewer_s_preferences(self, client, reviewer, submit_report):
        ReviewerPreferences.objects.create(user=reviewer, blur_px=4, greyscale=False)
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        r, _ = reveal(client, case, media, "frames")
        assert (
            'data-blur="4" data-greyscale="0" style="--media-filter: blur(4px)"'
            in r.content.decode()
        )

    def test_stills_inside_a_matched_segment_are_flagged(self, client, reviewer, submit_report):
        case, media = video_case(submit_report)
        matched(media, [{"start": 1.0, "end": 1.5, "entry_start": 7.0, "entry_end": 7.5}])
        client.force_login(reviewer)
        r, _ = reveal(client, case, media, "frames")
        html = r.content.decode()
        times = VideoStrip.objects.get(media=media).timestamps
        inside = [t for t in times if 0.5 <= t <= 2.0]
        assert inside and html.count("in a matched segment") == len(inside)
        assert "0:01–0:01: Known videos, entry" in html

    def test_stills_not_made_yet_are_not_a_view(self, client, reviewer, submit_report):
        case, media = video_case(submit_report, strip=False)
        client.force_login(reviewer)
        r, token = reveal(client, case, media, "frames")
        assert r.status_code == 200 and token is None
        assert "Preparing frames" in r.content.decode()
        assert not views().exists() and not ExposureEvent.objects.exists()


@pytest.mark.django_db
class TestRevealingThePlayer:
    def test_it_answers_a_muted_player_that_never_plays_by_itself(
        self, client, reviewer, submit_report
    ):
        case, media = video_case(submit_report, strip=False)
        client.force_login(reviewer)
        r, token = reveal(client, case, media, "video")
        html = r.content.decode()
        (video,) = re.findall(r"<video[^>]*>", html)
        assert f'src="{media_url(case, media)}?reveal={token}"' in video
        assert " muted " in video and " controls " in video and 'preload="metadata"' in video
        assert "autoplay" not in video
        assert 'style="filter: blur(16px) grayscale(1)"' in video
        assert 'data-frame-rate="10.000000"' in video
        assert f'data-played-url="{media_url(case, media, "played/")}"' in video
        assert views().get().after == {"shown": "video"}
        assert ExposureEvent.objects.get(user=reviewer).seconds_played == 0.0

    def test_each_reveal_is_a_view(self, client, reviewer, submit_report):
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        reveal(client, case, media, "frames")
        reveal(client, case, media, "video")
        reveal(client, case, media, "video")
        assert [e.after["shown"] for e in views().order_by("pk")] == ["frames", "video", "video"]
        assert ExposureEvent.objects.filter(user=reviewer, video=True).count() == 3


@pytest.mark.django_db
class TestRefusals:
    def test_it_asks_what_to_show(self, client, reviewer, submit_report):
        case, media = video_case(submit_report, strip=False)
        client.force_login(reviewer)
        for data in ({}, {"shown": "everything"}):
            assert client.post(media_url(case, media, "reveal/"), data).status_code == 400
        assert client.get(media_url(case, media, "reveal/")).status_code == 405
        assert not views().exists()

    def test_an_image_is_not_revealed_this_way(self, client, reviewer, submit_report, png_upload):
        report = submit_report(images=[png_upload()])
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{report.case_id}/media/{report.media.get().pk}/reveal/", {"shown": "video"}
        )
        assert r.status_code == 404

    def test_a_reviewer_not_certified_for_the_queue_gets_403(
        self, client, make_user, submit_report
    ):
        case, media = video_case(submit_report, category="csam", strip=False)
        client.force_login(
            make_user("g", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        )
        r, _ = reveal(client, case, media, "video")
        assert r.status_code == 403 and not views().exists()

    def test_another_case_s_video_is_404(self, client, reviewer, submit_report):
        case, _ = video_case(submit_report, strip=False)
        _, other = video_case(submit_report, strip=False, content_url="https://x.example/2")
        client.force_login(reviewer)
        assert reveal(client, case, other, "video")[0].status_code == 404

    def test_anonymous_goes_to_log_in(self, client, submit_report):
        case, media = video_case(submit_report, strip=False)
        r, _ = reveal(client, case, media, "video")
        assert r.status_code == 302 and "/accounts/login/" in r.url
