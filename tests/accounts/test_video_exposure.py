"""Exposure counts videos: each reveal of a video's stills or player is a reveal (per file, like
an image's), and the seconds its player played are counted beside them; shown to the reviewer
(preferences, the break suggestion) and to supervisors (team page, reviewer page)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ExposureEvent
from accounts.team import team_overview
from accounts.wellness import exposure_this_shift
from tests.moderation.review.video_helpers import media_url, reveal, video_case


@pytest.fixture
def watched(client, reviewer, submit_report, png_upload):
    """The reviewer revealed an image, a video's stills, and its player twice (2 s and 1.5 s)."""
    case, media = video_case(submit_report)
    image = submit_report(images=[png_upload()], content_url="https://x.example/image")
    client.force_login(reviewer)
    client.get(f"/cases/{image.case_id}/media/{image.media.get().pk}/")
    reveal(client, case, media, "frames")
    for seconds in ("2", "1.5"):
        _, token = reveal(client, case, media, "video")
        client.post(media_url(case, media, "played/"), {"reveal": token, "seconds": seconds})
    return case, media


@pytest.mark.django_db
class TestVideoExposure:
    def test_the_shift_counts_video_reveals_and_seconds_played(self, reviewer, watched):
        exposure = exposure_this_shift(reviewer)
        assert (exposure.reveals, exposure.video_reveals, exposure.video_seconds) == (4, 3, 3.5)
        assert exposure.total == 4

    def test_seconds_played_before_the_shift_are_not_counted(self, reviewer, watched):
        ExposureEvent.objects.update(at=timezone.now() - timedelta(days=2))
        exposure = exposure_this_shift(reviewer)
        assert (exposure.reveals, exposure.video_reveals, exposure.video_seconds) == (0, 0, 0.0)

    def test_the_team_counts_them_for_the_shift_and_the_week(self, reviewer, watched):
        (member,) = team_overview(only=reviewer.pk)
        assert (member.shift_reveals, member.shift_videos, member.shift_seconds) == (4, 3, 3.5)
        assert (member.week_reveals, member.week_videos, member.week_seconds) == (4, 3, 3.5)

    def test_the_reviewer_and_supervisors_see_them(self, client, reviewer, supervisor, watched):
        html = client.get("/account/preferences/").content.decode()
        assert "4 reveals of media (3 of videos, 4 seconds of video played)" in html
        client.force_login(supervisor)
        row = client.get("/supervise/team/").content.decode().split('data-reviewer="rita"')[1]
        assert "3 of videos · 4 s played" in row.split("</tr>")[0]
        page = client.get(f"/supervise/team/{reviewer.pk}/").content.decode()
        assert "3 of the reveals of videos, 4 seconds of video played" in page

    def test_the_break_suggestion_mentions_seconds_played(
        self, client, settings, reviewer, watched
    ):
        settings.WELLNESS_EXPOSURE_CAP = 2
        html = client.get("/review/").content.decode()
        assert "played 4 seconds of video" in html
