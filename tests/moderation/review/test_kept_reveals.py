"""A decision the form refuses draws the case page again with what the reviewer had revealed still
revealed, without a second view logged; and only what that person's own reveals account for."""

import re
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next
from moderation.review import reveals
from tests.moderation.review.video_helpers import media_url, reveal, video_case

# Missing the child-safety fields: the form refuses it (400) and draws the page again.
REFUSED = {"action": "remove", "policy": "child-safety/sexual-exploitation"}


def views():
    return AuditEvent.objects.filter(verb="media.viewed")


def kept_image_src(html: str) -> str | None:
    found = re.search(r'<img src="([^"]+\?reveal=[^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def image_case(submit_report, png_upload, reviewer):
    report = submit_report(category="csam", images=[png_upload()])
    case = case_claim_next(user=reviewer)
    return case, report.media.get()


@pytest.mark.django_db
class TestAnImage:
    def test_it_stays_revealed_and_its_file_is_not_logged_again(self, client, reviewer, image_case):
        case, media = image_case
        client.force_login(reviewer)
        assert client.get(media_url(case, media)).status_code == 200  # the reveal: logged
        assert views().count() == 1
        r = client.post(f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": f"image:{media.pk}"})
        assert r.status_code == 400
        html = r.content.decode()
        src = kept_image_src(html)
        assert src and src.startswith(media_url(case, media))
        assert 'data-revealed="1"' in html
        # Blurred and greyscale as on a reveal (the reviewer's defaults).
        assert "filter: blur(16px) grayscale(1)" in html
        assert client.get(src).status_code == 200
        assert views().count() == 1

    def test_an_image_never_revealed_is_not_shown(self, client, reviewer, image_case):
        case, media = image_case
        client.force_login(reviewer)
        r = client.post(f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": f"image:{media.pk}"})
        assert r.status_code == 400
        assert kept_image_src(r.content.decode()) is None

    def test_someone_else_s_view_does_not_count(self, client, reviewer, make_user, image_case):
        case, media = image_case
        supervisor = make_user("sup", Role.SUPERVISOR)
        client.force_login(supervisor)
        client.get(media_url(case, media))
        client.force_login(reviewer)
        r = client.post(f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": f"image:{media.pk}"})
        assert kept_image_src(r.content.decode()) is None

    def test_a_kept_token_opens_only_its_own_file_for_its_own_person(
        self, client, reviewer, make_user, image_case
    ):
        case, media = image_case
        client.force_login(reviewer)
        client.get(media_url(case, media))
        r = client.post(f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": f"image:{media.pk}"})
        src = kept_image_src(r.content.decode())
        client.force_login(make_user("other", Role.SUPERVISOR))
        assert client.get(src).status_code == 403

    def test_nonsense_is_ignored(self, client, reviewer, image_case):
        case, media = image_case
        client.force_login(reviewer)
        client.get(media_url(case, media))
        posted = ["image:x", "image:999999", "not-a-token", "", f"image:{media.pk}:1"]
        r = client.post(f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": posted})
        assert r.status_code == 400
        assert kept_image_src(r.content.decode()) is None

    def test_a_plain_page_load_shows_nothing_revealed(self, client, reviewer, image_case):
        case, media = image_case
        client.force_login(reviewer)
        client.get(media_url(case, media))
        html = client.get(f"/cases/{case.pk}/", {"revealed": f"image:{media.pk}"}).content
        assert kept_image_src(html.decode()) is None


@pytest.mark.django_db
class TestAVideo:
    def test_its_stills_and_player_stay_revealed_with_their_tokens(
        self, client, reviewer, submit_report
    ):
        case, media = video_case(submit_report, category="csam")
        case_claim_next(user=reviewer)
        client.force_login(reviewer)
        _, frames = reveal(client, case, media, "frames")
        _, player = reveal(client, case, media, "video")
        assert views().count() == 2
        r = client.post(f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": [frames, player]})
        assert r.status_code == 400
        html = r.content.decode()
        assert f"{media_url(case, media, 'frames/')}?reveal={frames}" in html
        assert f'src="{media_url(case, media)}?reveal={player}"' in html
        assert 'data-testid="player"' in html and 'data-testid="strip"' in html
        assert views().count() == 2

    def test_another_person_s_token_is_ignored(self, client, reviewer, make_user, submit_report):
        case, media = video_case(submit_report, category="csam")
        case_claim_next(user=reviewer)
        client.force_login(make_user("sup", Role.SUPERVISOR))
        _, theirs = reveal(client, case, media, "video")
        client.force_login(reviewer)
        r = client.post(f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": theirs})
        assert 'data-testid="player"' not in r.content.decode()


@pytest.mark.django_db
class TestHowLongAReveal:
    def test_a_view_older_than_a_reveal_lasts_is_not_kept(self, client, reviewer, image_case):

        case, media = image_case
        client.force_login(reviewer)
        client.get(media_url(case, media))
        later = timezone.now() + timedelta(seconds=reveals.REVEAL_SECONDS + 1)
        with mock.patch("moderation.review.reveals.timezone.now", return_value=later):
            r = client.post(
                f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": f"image:{media.pk}"}
            )
        assert kept_image_src(r.content.decode()) is None

    def test_a_kept_image_s_token_opens_its_file_for_minutes_only(
        self, client, reviewer, image_case
    ):

        case, media = image_case
        client.force_login(reviewer)
        client.get(media_url(case, media))
        r = client.post(f"/cases/{case.pk}/decide/", {**REFUSED, "revealed": f"image:{media.pk}"})
        src = kept_image_src(r.content.decode())
        later = time.time() + reveals.KEPT_IMAGE_SECONDS + 1
        with mock.patch("django.core.signing.time.time", return_value=later):
            assert client.get(src).status_code == 403

    def test_a_video_token_of_another_case_is_ignored(self, client, reviewer, submit_report):
        first, first_media = video_case(submit_report, category="csam")
        second, second_media = video_case(submit_report, category="harassment")
        held = case_claim_next(user=reviewer)
        other, other_media = (second, second_media) if held.pk == first.pk else (first, first_media)
        client.force_login(reviewer)
        _, elsewhere = reveal(client, other, other_media, "video")
        assert elsewhere
        r = client.post(f"/cases/{held.pk}/decide/", {**REFUSED, "revealed": elsewhere})
        assert r.status_code == 400
        assert 'data-testid="player"' not in r.content.decode()
