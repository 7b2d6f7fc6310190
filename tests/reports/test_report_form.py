import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from reports.models import Media, Report
from tests.conftest import png_bytes


def form_data(**overrides):
    data = {
        "category": "csam",
        "content_url": "https://social.example/p/123",
        "description": "Please take this down.",
        "involves_child": "on",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestReportForm:
    def test_it_shows_the_form_with_plain_language_categories(self, client):
        r = client.get("/report/")
        assert r.status_code == 200
        assert b"Child sexual exploitation" in r.content
        assert b"Sexual images or videos of someone under 18" in r.content
        assert b"csrfmiddlewaretoken" in r.content

    def test_it_accepts_a_report_and_shows_its_reference(self, client):
        r = client.post("/report/", form_data(), follow=True)
        assert r.status_code == 200
        report = Report.objects.get()
        assert report.reference.encode() in r.content
        assert r.redirect_chain[-1][0] == f"/report/received/{report.reference}/"
        assert report.category == "csam"
        assert report.involves_child is True
        assert report.source == "form"
        assert report.reporter_kind == "public"

    def test_the_content_language_is_optional_and_chosen_from_a_list(self, client):
        assert (
            b'<option value="pt-BR">Brazilian Portuguese</option>' in client.get("/report/").content
        )
        client.post("/report/", form_data(language="pt-BR"))
        assert Report.objects.get().content_item.language == "pt-BR"
        client.post("/report/", form_data(content_url="https://social.example/p/9"))
        assert Report.objects.latest("pk").content_item.language == ""
        r = client.post("/report/", form_data(language="klingon"))
        assert "Select a valid choice" in r.content.decode()

    def test_it_rolls_the_report_into_the_case_for_that_content(self, client):
        client.post("/report/", form_data())
        client.post("/report/", form_data(category="harassment", involves_child=""))
        # The same link with a different host case and a fragment is the same content.
        client.post("/report/", form_data(content_url="https://SOCIAL.example/p/123#top"))
        case = Case.objects.get()
        assert case.reports_count == 3
        assert case.queue.slug == "child-safety"
        assert case.category == "csam"

    def test_it_routes_by_category(self, client):
        client.post(
            "/report/",
            form_data(category="spam", involves_child="", content_url="https://a.example/1"),
        )
        assert Case.objects.get().queue.slug == "general"

    def test_it_stores_the_image_privately_and_hashes_it_after_commit(
        self, client, run_jobs, private_media
    ):
        upload = SimpleUploadedFile("holiday.jpg", png_bytes(), content_type="image/jpeg")
        with run_jobs():
            client.post("/report/", form_data(images=upload))
        media = Media.objects.get()
        assert media.hashed_at is not None
        import hashlib

        assert media.sha256 == hashlib.sha256(png_bytes()).hexdigest()
        # Stored under a random name in private storage, never the uploader's name.
        assert "holiday" not in media.file.name
        assert (private_media / media.file.name).exists()
        # The browser called it JPEG; the bytes say PNG, and the bytes win.
        assert media.mime == "image/png"

    def test_it_writes_audit_events(self, client):
        client.post("/report/", form_data())
        verbs = list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))
        assert verbs == ["case.opened", "report.received"]
        event = AuditEvent.objects.get(verb="report.received")
        assert event.actor is None
        assert event.actor_label == "public form"
        # The reporter's address is not kept with the report's audit trail.
        assert event.ip is None

    @pytest.mark.parametrize(
        "overrides, field, message",
        [
            ({"category": "nonsense"}, "category", b"Select a valid choice"),
            ({"category": ""}, "category", b"This field is required"),
            ({"content_url": "not a url"}, "content_url", b"Enter a valid URL"),
            ({"content_url": ""}, "content_url", b"This field is required"),
            ({"description": "x" * 5001}, "description", b"at most 5000 characters"),
        ],
    )
    def test_it_shows_form_errors_for_bad_input(self, client, overrides, field, message):
        r = client.post("/report/", form_data(**overrides))
        assert r.status_code == 200
        assert message in r.content
        assert field in r.context["form"].errors
        assert Report.objects.count() == 0

    def test_it_rejects_a_file_that_is_not_an_image(self, client):
        upload = SimpleUploadedFile(
            "evil.png", b"MZ\x90\x00 not an image", content_type="image/png"
        )
        r = client.post("/report/", form_data(images=upload))
        assert b"evil.png: not an image" in r.content
        assert Report.objects.count() == Media.objects.count() == 0

    def test_it_rejects_a_truncated_image(self, client):
        data = png_bytes(size=(400, 300))[:200]
        upload = SimpleUploadedFile("cut.png", data, content_type="image/png")
        r = client.post("/report/", form_data(images=upload))
        assert b"cut.png: the image is truncated or corrupt" in r.content
        assert Report.objects.count() == 0

    def test_it_rejects_an_oversized_file(self, client, settings):
        settings.MAX_UPLOAD_BYTES = 100
        upload = SimpleUploadedFile("big.png", png_bytes(), content_type="image/png")
        r = client.post("/report/", form_data(images=upload))
        assert b"too large" in r.content
        assert Report.objects.count() == 0

    def test_it_requires_csrf(self):
        from django.test import Client

        r = Client(enforce_csrf_checks=True).post("/report/", form_data())
        assert r.status_code == 403
        assert Report.objects.count() == 0


@pytest.mark.django_db
class TestReportReceived:
    def test_it_shows_only_the_reference(self, client, submit_report):
        report = submit_report(description="private details about me")
        r = client.get(f"/report/received/{report.reference}/")
        assert r.status_code == 200
        assert report.reference.encode() in r.content
        assert b"private details" not in r.content

    def test_it_404s_for_an_unknown_reference(self, client):
        assert client.get("/report/received/VR-AAAA-AAAA/").status_code == 404
