import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from moderation.cases.models import Case
from reports.models import Report, ReporterIdentity
from tests.conftest import png_bytes


@pytest.mark.django_db
class TestSelfReport:
    def test_it_speaks_calmly_to_a_young_person(self, client):
        r = client.get("/report/self/")
        assert r.status_code == 200
        assert b"you are not in trouble" in r.content
        assert b"not your fault" in r.content

    def test_it_goes_to_the_self_reports_queue_at_the_top(self, client, submit_report):
        submit_report(category="csam", involves_child=True)
        r = client.post(
            "/report/self/",
            {"content_url": "https://social.example/p/me", "description": "please remove it"},
            follow=True,
        )
        assert r.status_code == 200
        report = Report.objects.get(reporter_kind="self")
        assert report.category == "self_generated" and report.involves_child
        assert report.case.queue.slug == "self-reports"
        assert report.case.queue.order == min(Case.objects.values_list("queue__order", flat=True))
        # The confirmation page offers support, not just a number.
        assert report.reference.encode() in r.content
        assert b"takeitdown.ncmec.org" in r.content
        assert b"Childline" in r.content

    def test_it_accepts_screenshots_and_an_email(self, client):
        shots = [
            SimpleUploadedFile("one.png", png_bytes(colour=(1, 2, 3)), content_type="image/png"),
            SimpleUploadedFile("two.png", png_bytes(colour=(4, 5, 6)), content_type="image/png"),
        ]
        client.post(
            "/report/self/",
            {
                "content_url": "https://social.example/p/me",
                "images": shots,
                "email": "kid@example.org",
            },
        )
        report = Report.objects.get()
        assert report.media.count() == 2
        assert ReporterIdentity.objects.get(report=report).email == "kid@example.org"

    def test_a_missing_link_is_a_form_error(self, client):
        r = client.post("/report/self/", {"content_url": ""})
        assert r.status_code == 200
        assert "content_url" in r.context["form"].errors
        assert Report.objects.count() == 0


@pytest.mark.django_db
class TestReportFormExtras:
    def test_it_takes_several_images_and_an_optional_email(self, client):
        shots = [
            SimpleUploadedFile(f"{i}.png", png_bytes(colour=(i, i, i)), content_type="image/png")
            for i in range(3)
        ]
        client.post(
            "/report/",
            {
                "category": "harassment",
                "content_url": "https://a.example/1",
                "images": shots,
                "email": "me@example.org",
            },
        )
        report = Report.objects.get()
        assert report.media.count() == 3
        identity = ReporterIdentity.objects.get(report=report)
        assert identity.email == "me@example.org"
        assert identity.ip == "127.0.0.1"

    def test_it_refuses_more_than_ten_images(self, client):
        shots = [
            SimpleUploadedFile(f"{i}.png", png_bytes(colour=(i, i, i)), content_type="image/png")
            for i in range(11)
        ]
        r = client.post(
            "/report/", {"category": "spam", "content_url": "https://a.example/1", "images": shots}
        )
        assert b"at most 10 files" in r.content
        assert Report.objects.count() == 0

    def test_it_keeps_a_misnamed_image_by_its_real_type(self, client):
        shot = SimpleUploadedFile("photo.jpg", png_bytes(), content_type="image/jpeg")
        client.post(
            "/report/", {"category": "spam", "content_url": "https://a.example/1", "images": [shot]}
        )
        assert Report.objects.get().media.get().mime == "image/png"

    def test_it_rejects_a_bad_email(self, client):
        r = client.post(
            "/report/", {"category": "spam", "content_url": "https://a.example/1", "email": "nope"}
        )
        assert "email" in r.context["form"].errors

    def test_it_links_to_the_self_report_path(self, client):
        assert b'href="/report/self/"' in client.get("/report/").content

    def test_it_rate_limits_by_address(self, client, settings):
        settings.PUBLIC_FORM_RATE_PER_MINUTE = 3
        data = {"category": "spam", "content_url": "https://a.example/1"}
        codes = [client.post("/report/", data).status_code for _ in range(4)]
        assert codes == [302, 302, 302, 429]
        r = client.post("/report/", data)
        assert int(r["Retry-After"]) >= 1
        assert b"Anything you already sent has been received" in r.content
        assert Report.objects.count() == 3
        # Another address is not affected.
        assert client.post("/report/", data, REMOTE_ADDR="192.0.2.9").status_code == 302


@pytest.mark.django_db
class TestReportStatus:
    def test_it_says_waiting_then_reviewed(self, client, reviewer, submit_report):
        from moderation.cases.services import case_claim_next
        from moderation.review.services import case_decide

        report = submit_report(owner_handle="@the_owner", description="secret words")
        r = client.get("/report/status/", {"reference": report.reference.lower()})
        assert b"Waiting for review" in r.content
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="remove", policy="harassment")
        r = client.get("/report/status/", {"reference": report.reference})
        assert b"Reviewed" in r.content
        # Nothing about the reported person, the content or the decision.
        for secret in (b"@the_owner", b"secret words", b"remove", b"Remove", b"social.example"):
            assert secret not in r.content

    def test_it_says_when_a_reference_is_unknown(self, client):
        r = client.get("/report/status/", {"reference": "VR-AAAA-AAAA"})
        assert b"could not find a report" in r.content

    def test_it_rejects_something_that_is_not_a_reference(self, client):
        r = client.get("/report/status/", {"reference": "'; drop table"})
        assert b"does not look like a reference" in r.content

    def test_it_rate_limits_lookups(self, client):
        codes = {
            client.get("/report/status/", {"reference": "VR-AAAA-AAAA"}).status_code
            for _ in range(31)
        }
        assert 429 in codes
