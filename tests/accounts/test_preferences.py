"""A reviewer's own blur and greyscale preferences, and how the case page carries them."""

import pytest

from accounts.models import ReviewerPreferences
from moderation.audit.models import AuditEvent


@pytest.mark.django_db
class TestPreferencesPage:
    def test_it_shows_the_defaults_then_saves_a_change(self, client, reviewer):
        client.force_login(reviewer)
        r = client.get("/account/preferences/")
        assert r.status_code == 200
        defaults = {"blur_px": 16, "greyscale": True, "play_muted": True, "auto_advance": False}
        assert r.context["form"].initial == defaults
        r = client.post(
            "/account/preferences/", {"blur_px": "4", "auto_advance": "on"}, follow=True
        )
        assert b"Your preferences are saved" in r.content
        prefs = ReviewerPreferences.objects.get(user=reviewer)
        # An unticked box is "no".
        assert (prefs.blur_px, prefs.greyscale, prefs.play_muted, prefs.auto_advance) == (
            4,
            False,
            False,
            True,
        )
        event = AuditEvent.objects.get(verb="preferences.updated")
        assert event.before == defaults
        assert event.after == {
            "blur_px": 4,
            "greyscale": False,
            "play_muted": False,
            "auto_advance": True,
        }

    @pytest.mark.parametrize("blur", ["-1", "41", "lots", ""])
    def test_it_refuses_a_bad_blur_with_a_form_error(self, client, reviewer, blur):
        client.force_login(reviewer)
        r = client.post("/account/preferences/", {"blur_px": blur, "greyscale": "on"})
        assert r.status_code == 400
        assert r.context["form"].errors["blur_px"]
        assert not ReviewerPreferences.objects.exists()

    def test_the_case_page_carries_the_preferences_to_each_image(
        self, client, reviewer, submit_report, png_upload
    ):
        case = submit_report(images=[png_upload()]).case
        client.force_login(reviewer)
        page = client.get(f"/cases/{case.pk}/").content
        assert b'data-blur="16" data-greyscale="1"' in page
        client.post("/account/preferences/", {"blur_px": "0"})
        page = client.get(f"/cases/{case.pk}/").content
        assert b'data-blur="0" data-greyscale="0"' in page
        # Nothing is fetched before a reveal: the page holds no <img> of the media.
        assert f"/cases/{case.pk}/media/".encode() in page and b"<img" not in page


@pytest.mark.django_db
class TestMuteDefault:
    def test_the_player_opens_muted_unless_the_reviewer_chose_sound(
        self, client, reviewer, submit_report
    ):
        from tests.moderation.review.video_helpers import reveal, video_case

        case, media = video_case(submit_report)
        client.force_login(reviewer)
        r, _ = reveal(client, case, media, "video")
        assert b" muted " in r.content and b'aria-label="The video, muted"' in r.content
        client.post("/account/preferences/", {"blur_px": "16", "greyscale": "on"})
        r, _ = reveal(client, case, media, "video")
        assert b" muted " not in r.content and b'aria-label="The video"' in r.content
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert "Opens the player, blurred and greyscale" in page
