"""The public form for reporting a conversation (/report/conversation/)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reports.models import ContentItem, Media, Participant, Report, ReporterIdentity
from tests.conftest import png_bytes


def form(**overrides):
    data = {
        "category": "grooming",
        "content_url": "https://social.example/messages/t/8812",
        "other_handle": "@smooth_talker",
        "other_age": "35",
        "reporter_in_conversation": "me",
        "child_handle": "@kid_13",
        "child_age": "13",
        "description": "he keeps asking for pictures and says not to tell my mum",
        "email": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestConversationReportForm:
    def test_it_is_reachable_from_the_report_form_and_offers_a_quick_exit(self, client):
        assert b'href="/report/conversation/"' in client.get("/report/").content
        r = client.get("/report/conversation/")
        assert r.status_code == 200
        assert b"Report a conversation" in r.content and b"data-quick-exit" in r.content

    def test_it_stores_the_conversation_with_the_people_in_it(self, client):
        r = client.post("/report/conversation/", form(), follow=True)
        assert r.status_code == 200
        report = Report.objects.get()
        assert report.reference.encode() in r.content
        item = report.content_item
        assert item.type == ContentItem.Type.CONVERSATION
        assert item.owner_handle == "@smooth_talker"
        assert report.category == "grooming" and report.involves_child
        assert report.case.queue.slug == "child-safety"
        # Usernames as typed stand for the people, never taken for platform account ids; the
        # ages are what the reporter said.
        other = Participant.objects.get(account_id="form:@smooth_talker")
        child = Participant.objects.get(account_id="form:@kid_13")
        assert (other.role, other.age_source, other.reported) == ("adult", "reported", True)
        assert (child.role, child.age_source, child.is_reporter) == ("minor", "reported", True)
        assert (other.handle, child.handle) == ("@smooth_talker", "@kid_13")
        # What was said is kept as the reporter wrote it.
        assert report.description.startswith("he keeps asking")

    def test_a_parent_reporting_is_not_marked_as_a_participant(self, client):
        client.post("/report/conversation/", form(reporter_in_conversation="someone_else"))
        child = Participant.objects.get(account_id="form:@kid_13")
        assert not child.is_reporter and child.role == "minor"

    def test_without_usernames_each_child_is_a_participant_of_their_own(self, client):
        client.post("/report/conversation/", form(child_handle="", child_age=""))
        client.post("/report/conversation/", form(child_handle="", child_age="12"))
        unnamed = Participant.objects.exclude(account_id="form:@smooth_talker")
        assert unnamed.count() == 2
        assert {p.role for p in unnamed} == {"unknown", "minor"}
        # One conversation, one case.
        assert Report.objects.values("case").distinct().count() == 1

    def test_screenshots_and_an_address_are_kept(self, client):
        shot = SimpleUploadedFile("chat.png", png_bytes(), content_type="image/png")
        client.post("/report/conversation/", {**form(email="parent@example.org"), "images": [shot]})
        assert Media.objects.get().report == Report.objects.get()
        identity = ReporterIdentity.objects.get()
        assert identity.email == "parent@example.org" and identity.notify

    @pytest.mark.parametrize(
        "field, value, message",
        [
            ("other_handle", "", b"Enter the username of the person you are reporting"),
            ("description", "", b"Tell us what was said"),
            ("content_url", "not a link", b"Enter a valid URL"),
            ("child_age", "-3", b"greater than or equal to 0"),
            ("child_handle", "@SMOOTH_TALKER", b"That is the username of the person you are"),
            ("category", "spam", b"Select a valid choice"),
            ("other_handle", "evil\nname", b"A username is on one line"),
        ],
    )
    def test_bad_input_is_a_form_error(self, client, field, value, message):
        r = client.post("/report/conversation/", form(**{field: value}))
        assert r.status_code == 200
        assert message in r.content and b"data-error-summary" in r.content
        assert not Report.objects.exists()


@pytest.mark.django_db
class TestWhatTheFormCannotDo:
    def test_it_never_opens_an_account_case_against_a_platform_account(self, client, run_jobs):
        # Two strangers name the same platform account id as the other person, each with a
        # different child: typed usernames are not accounts, so nothing is tallied.
        with run_jobs():
            client.post("/report/conversation/", form(other_handle="u-31", child_handle="a"))
            client.post("/report/conversation/", form(other_handle="u-31", child_handle="b"))
        assert not ContentItem.objects.filter(type="account").exists()
        assert not Participant.objects.filter(account_id="u-31").exists()

    def test_a_link_to_a_post_is_not_taken_for_a_conversation(self, client, submit_report):
        post = submit_report(content_url="https://social.example/p/77", content_type="image")
        r = client.post("/report/conversation/", form(content_url="https://social.example/p/77"))
        assert b"That link is to a post, not a conversation" in r.content
        assert Report.objects.count() == 1 and not Participant.objects.exists()
        assert post.content_item.type == "image"
