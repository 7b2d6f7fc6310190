"""The player's report of seconds played (case_media_played): the latest total since a reveal,
at most the video's length, idempotent, only for the reviewer's own reveal of that video."""

import pytest

from accounts.models import ExposureEvent
from tests.moderation.review.video_helpers import SECONDS, media_url, reveal, video_case


@pytest.fixture
def revealed(client, reviewer, submit_report):
    case, media = video_case(submit_report, strip=False)
    client.force_login(reviewer)
    _, token = reveal(client, case, media, "video")

    def played(seconds, token=token, as_client=client):
        return as_client.post(
            media_url(case, media, "played/"), {"reveal": token, "seconds": seconds}
        )

    return case, media, token, played


def seconds_played(user):
    return ExposureEvent.objects.get(user=user, kind="reveal").seconds_played


@pytest.mark.django_db
class TestSecondsPlayed:
    def test_it_records_the_total_since_the_reveal(self, reviewer, revealed):
        *_, played = revealed
        assert played("1.25").status_code == 204
        assert seconds_played(reviewer) == 1.25

    def test_the_latest_total_replaces_the_last_and_a_repeat_changes_nothing(
        self, reviewer, revealed
    ):
        *_, played = revealed
        played("1.0")
        played("2.5")
        played("2.5")
        assert seconds_played(reviewer) == 2.5
        # A beacon that arrives late with an older (smaller) total does not lower it.
        played("1.5")
        assert seconds_played(reviewer) == 2.5

    def test_it_is_capped_at_the_video_s_length(self, reviewer, revealed):
        _, media, _, played = revealed
        assert media.duration == pytest.approx(SECONDS, abs=0.2)
        played("999")
        assert seconds_played(reviewer) == media.duration

    def test_each_reveal_counts_its_own_seconds(self, client, reviewer, revealed):
        case, media, first, played = revealed
        _, second = reveal(client, case, media, "video")
        played("1.0", token=first)
        played("2.0", token=second)
        totals = ExposureEvent.objects.filter(user=reviewer).order_by("pk")
        assert [e.seconds_played for e in totals] == [1.0, 2.0]

    @pytest.mark.parametrize("seconds", ["", "abc", "nan", "inf", "-1", "1e999"])
    def test_bad_input_is_a_400(self, reviewer, revealed, seconds):
        *_, played = revealed
        assert played(seconds).status_code == 400
        assert seconds_played(reviewer) == 0.0

    def test_someone_else_s_reveal_is_refused(self, client, make_user, reviewer, revealed):
        *_, played = revealed
        client.force_login(make_user("other"))
        assert played("2").status_code == 403
        assert seconds_played(reviewer) == 0.0

    def test_a_forged_token_or_a_reveal_of_the_stills_is_refused(
        self, client, reviewer, submit_report, revealed
    ):
        case, media, token, played = revealed
        assert played("2", token=token + "x").status_code == 403
        assert played("2", token="").status_code == 403
        from moderation.banks.strips import media_make_strip

        media_make_strip(media_id=media.pk)
        _, frames = reveal(client, case, media, "frames")
        assert played("2", token=frames).status_code == 403
        assert not ExposureEvent.objects.filter(user=reviewer, seconds_played__gt=0).exists()

    def test_a_video_that_is_not_there_is_404(self, client, revealed):
        case, media, token, _ = revealed
        r = client.post(f"/cases/{case.pk}/media/999999/played/", {"reveal": token, "seconds": 1})
        assert r.status_code == 404

    def test_anonymous_goes_to_log_in(self, client, revealed):
        *_, played = revealed
        client.logout()
        r = played("1")
        assert r.status_code == 302 and "/accounts/login/" in r.url


@pytest.mark.django_db
class TestWatchedThrough:
    """Playing all of a video is logged once (media.watched): what fileViewedByEsp reads."""

    def watched(self, media):
        from moderation.audit.models import AuditEvent

        return AuditEvent.objects.filter(verb="media.watched", object_id=str(media.pk))

    def test_it_logs_the_whole_video_played_once(self, reviewer, revealed):
        case, media, _, played = revealed
        played(str(media.duration / 2))
        assert not self.watched(media).exists()
        played(str(media.duration - 0.05))  # a player stops a frame short of the end
        played(str(media.duration))
        [event] = self.watched(media)
        assert (event.actor_id, event.case_id) == (reviewer.pk, case.pk)
        assert event.after["duration"] == media.duration

    def test_most_of_it_is_not_all_of_it(self, reviewer, revealed):
        _, media, _, played = revealed
        played(str(media.duration - 0.5))
        assert not self.watched(media).exists()
