"""The private media view serving a video (case_media_view): whole or by byte range (206, 416),
logged once per reveal (a player's range requests with the reveal's token are not logged again;
a fetch without one is a view of its own), and only to who may see the case and the evidence."""

import time

import pytest
from django.core import signing

from accounts.models import ExposureEvent
from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Queue
from moderation.escalations.models import Escalation
from tests.moderation.custody_helpers import make_escalation
from tests.moderation.review.video_helpers import media_url, reveal, small_video, video_case


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def views():
    return AuditEvent.objects.filter(verb="media.viewed")


@pytest.fixture
def video(submit_report):
    data = small_video()
    case, media = video_case(submit_report, data=data, strip=False)
    return case, media, data


@pytest.mark.django_db
class TestServingAVideo:
    def test_a_fetch_without_a_reveal_gets_the_whole_file_and_is_logged(
        self, client, reviewer, video
    ):
        case, media, data = video
        client.force_login(reviewer)
        r = client.get(media_url(case, media))
        assert r.status_code == 200
        assert body(r) == data
        assert r["Content-Type"] == "video/mp4" and r["Accept-Ranges"] == "bytes"
        assert r["Content-Length"] == str(len(data))
        assert {"private", "no-store"} <= set(r["Cache-Control"].split(", "))
        (event,) = views()
        assert event.actor == reviewer and event.after == {"shown": "video"}
        assert ExposureEvent.objects.get(user=reviewer).video

    def test_a_player_s_byte_ranges_are_served_and_not_logged_again(self, client, reviewer, video):
        case, media, data = video
        client.force_login(reviewer)
        _, token = reveal(client, case, media, "video")
        url = f"{media_url(case, media)}?reveal={token}"
        for header, first, last in [
            ("bytes=0-99", 0, 99),
            ("bytes=100-", 100, len(data) - 1),
            ("bytes=-50", len(data) - 50, len(data) - 1),
            (f"bytes=10-{len(data) * 2}", 10, len(data) - 1),
        ]:
            r = client.get(url, HTTP_RANGE=header)
            assert r.status_code == 206, header
            assert r["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
            assert r["Content-Length"] == str(last - first + 1)
            assert {"private", "no-store"} <= set(r["Cache-Control"].split(", "))
            assert body(r) == data[first : last + 1]
        assert body(client.get(url)) == data
        # One reveal, one view, one exposure, however many requests its player makes.
        assert views().count() == 1 and views().get().after == {"shown": "video"}
        assert ExposureEvent.objects.filter(user=reviewer).count() == 1

    @pytest.mark.parametrize(
        "header", ["bytes={size}-", "bytes={size}-{big}", "bytes=-0", "bytes=abc", "bytes=9-3"]
    )
    def test_a_range_the_file_cannot_satisfy_is_a_416_and_no_view(
        self, client, reviewer, video, header
    ):
        case, media, data = video
        client.force_login(reviewer)
        r = client.get(
            media_url(case, media), HTTP_RANGE=header.format(size=len(data), big=len(data) + 9)
        )
        assert r.status_code == 416
        assert r["Content-Range"] == f"bytes */{len(data)}"
        assert not views().exists()

    def test_a_range_in_another_unit_is_ignored(self, client, reviewer, video):
        case, media, data = video
        client.force_login(reviewer)
        r = client.get(media_url(case, media), HTTP_RANGE="items=0-3")
        assert r.status_code == 200 and body(r) == data

    def test_a_fetch_without_a_reveal_is_logged_each_time_even_by_range(
        self, client, reviewer, video
    ):
        case, media, _ = video
        client.force_login(reviewer)
        body(client.get(media_url(case, media), HTTP_RANGE="bytes=0-9"))
        body(client.get(media_url(case, media), HTTP_RANGE="bytes=10-19"))
        assert views().count() == 2


@pytest.mark.django_db
class TestWhoMayFetchIt:
    def test_another_reviewer_s_reveal_is_refused(self, client, make_user, reviewer, video):
        case, media, _ = video
        client.force_login(reviewer)
        _, token = reveal(client, case, media, "video")
        client.force_login(make_user("other"))
        r = client.get(f"{media_url(case, media)}?reveal={token}", HTTP_RANGE="bytes=0-9")
        assert r.status_code == 403
        assert views().count() == 1  # the reveal's own

    def test_a_reveal_of_the_stills_does_not_open_the_video(self, client, reviewer, submit_report):
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        _, token = reveal(client, case, media, "frames")
        assert client.get(f"{media_url(case, media)}?reveal={token}").status_code == 403

    def test_a_forged_or_expired_reveal_is_refused(self, client, reviewer, video, monkeypatch):
        case, media, _ = video
        client.force_login(reviewer)
        _, token = reveal(client, case, media, "video")
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert client.get(f"{media_url(case, media)}?reveal={forged}").status_code == 403
        later = time.time() + 2 * 3600
        monkeypatch.setattr(signing.time, "time", lambda: later)
        assert client.get(f"{media_url(case, media)}?reveal={token}").status_code == 403

    def test_a_reveal_for_one_case_does_not_open_the_file_through_another(
        self, client, reviewer, submit_report
    ):
        data = small_video()
        one, media = video_case(submit_report, data=data, strip=False)
        client.force_login(reviewer)
        _, token = reveal(client, one, media, "video")
        other, other_media = video_case(
            submit_report, data=data, strip=False, content_url="https://x.example/other"
        )
        url = f"{media_url(other, other_media)}?reveal={token}"
        assert client.get(url).status_code == 403

    def test_a_reviewer_not_certified_for_the_queue_gets_403(
        self, client, make_user, submit_report
    ):
        case, media = video_case(submit_report, category="csam", strip=False)
        general = make_user("g", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        client.force_login(general)
        assert client.get(media_url(case, media)).status_code == 403
        assert not views().exists()

    def test_anonymous_goes_to_log_in(self, client, video):
        case, media, _ = video
        r = client.get(media_url(case, media))
        assert r.status_code == 302 and "/accounts/login/" in r.url

    def test_preserved_evidence_is_refused_even_with_a_reveal(
        self, client, reviewer, make_user, submit_report
    ):
        from reports.models import Report

        case, media = video_case(submit_report, strip=False)
        client.force_login(reviewer)
        _, token = reveal(client, case, media, "video")
        make_escalation(
            make_user, [Report.objects.get(case=case)], status=Escalation.Status.SUBMITTED
        )
        r = client.get(f"{media_url(case, media)}?reveal={token}", HTTP_RANGE="bytes=0-9")
        assert r.status_code == 403
        assert AuditEvent.objects.filter(verb="media.view_refused").count() == 1

    def test_a_file_missing_from_storage_is_a_404_and_no_view(
        self, client, reviewer, video, private_media
    ):
        case, media, _ = video
        (private_media / media.file.name).unlink()
        client.force_login(reviewer)
        assert client.get(media_url(case, media)).status_code == 404
        assert not views().exists()
