"""A video's strip of stills, served as privately as the video (case_media_frames), and the case
page's poll while the stills are being made (case_media_frames_status)."""

import io

import pytest
from PIL import Image

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Queue
from reports.models import VideoStrip
from tests.moderation.review.video_helpers import media_url, reveal, video_case


def views():
    return AuditEvent.objects.filter(verb="media.viewed")


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
class TestTheStrip:
    def test_a_reveal_s_strip_is_served_privately_and_not_logged_again(
        self, client, reviewer, submit_report
    ):
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        _, token = reveal(client, case, media, "frames")
        r = client.get(f"{media_url(case, media, 'frames/')}?reveal={token}")
        assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
        assert {"private", "no-store"} <= set(r["Cache-Control"].split(", "))
        strip = VideoStrip.objects.get(media=media)
        sheet = Image.open(io.BytesIO(body(r)))
        assert sheet.size == (strip.tile_width * len(strip.timestamps), strip.tile_height)
        assert views().count() == 1

    def test_a_fetch_without_a_reveal_is_logged_as_a_view_of_the_stills(
        self, client, reviewer, submit_report
    ):
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        body(client.get(media_url(case, media, "frames/")))
        assert views().get().after == {"shown": "frames"}

    def test_the_player_s_reveal_does_not_open_the_stills(self, client, reviewer, submit_report):
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        _, token = reveal(client, case, media, "video")
        assert client.get(f"{media_url(case, media, 'frames/')}?reveal={token}").status_code == 403

    def test_another_reviewer_s_reveal_is_refused(self, client, reviewer, make_user, submit_report):
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        _, token = reveal(client, case, media, "frames")
        client.force_login(make_user("other"))
        assert client.get(f"{media_url(case, media, 'frames/')}?reveal={token}").status_code == 403

    def test_no_strip_yet_is_a_404(self, client, reviewer, submit_report):
        case, media = video_case(submit_report, strip=False)
        client.force_login(reviewer)
        assert client.get(media_url(case, media, "frames/")).status_code == 404
        assert not views().exists()

    def test_a_reviewer_not_certified_for_the_queue_gets_403(
        self, client, make_user, submit_report
    ):
        case, media = video_case(submit_report, category="csam")
        client.force_login(
            make_user("g", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        )
        assert client.get(media_url(case, media, "frames/")).status_code == 403

    def test_anonymous_goes_to_log_in(self, client, submit_report):
        case, media = video_case(submit_report)
        r = client.get(media_url(case, media, "frames/"))
        assert r.status_code == 302 and "/accounts/login/" in r.url


@pytest.mark.django_db
class TestWaitingForTheStrip:
    def test_the_poll_has_the_stills_made_and_then_offers_them(
        self, client, reviewer, submit_report, run_jobs
    ):
        case, media = video_case(submit_report, strip=False)
        client.force_login(reviewer)
        with run_jobs():
            first = client.post(media_url(case, media, "frames/status/"))
        assert first.status_code == 200
        # Embedded, the job ran in that request; with Redis, a worker ran it after.
        r = client.post(media_url(case, media, "frames/status/"))
        html = r.content.decode()
        assert "Show frames" in html and "hx-trigger" not in html
        assert VideoStrip.objects.get(media=media).ready
        assert not views().exists()  # offering the stills is not showing them

    def test_while_the_job_runs_it_keeps_polling(self, client, reviewer, submit_report):
        case, media = video_case(submit_report, strip=False)
        client.force_login(reviewer)
        # The job is queued after commit; this test's transaction never commits.
        r = client.post(media_url(case, media, "frames/status/"))
        html = r.content.decode()
        assert "Preparing frames" in html and 'hx-trigger="load, every 2s"' in html
        assert VideoStrip.objects.filter(media=media, made_at__isnull=True).exists()

    def test_a_video_no_still_could_be_made_of_says_why(
        self, client, reviewer, submit_report, private_media
    ):
        case, media = video_case(submit_report, strip=False)
        (private_media / media.file.name).write_bytes(b"garbage" * 10)
        from moderation.banks.strips import media_make_strip

        media_make_strip(media_id=media.pk)
        client.force_login(reviewer)
        html = client.post(media_url(case, media, "frames/status/")).content.decode()
        assert "No stills could be made of this video: not a video FFmpeg can read." in html

    def test_it_is_for_those_who_may_see_the_case(self, client, make_user, submit_report):
        case, media = video_case(submit_report, category="csam", strip=False)
        client.force_login(
            make_user("g", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        )
        assert client.post(media_url(case, media, "frames/status/")).status_code == 403
        assert not VideoStrip.objects.exists()
