"""A malformed reporter address never costs the report: the form shows the error and keeps what
was typed, and the report goes through without it; the API accepts the report without it and says
so in `warnings`."""

import json

import pytest

from reports.models import Report, ReporterIdentity, ReporterNotice
from tests.api_helpers import auth, report_payload, token_for


@pytest.mark.django_db
class TestOnTheForm:
    @pytest.mark.parametrize("path", ["/report/", "/report/self/"])
    def test_it_is_a_form_error_and_the_rest_is_kept(self, client, path, run_jobs, mailoutbox):
        data = {
            "category": "harassment",
            "content_url": "https://social.example/p/42",
            "description": "they keep posting this",
            "email": "me@@mail",
        }
        r = client.post(path, data)
        assert r.status_code == 200
        form = r.context["form"]
        assert list(form.errors) == ["email"]
        assert form["content_url"].value() == data["content_url"]
        assert form["description"].value() == data["description"]
        assert Report.objects.count() == 0

        with run_jobs():
            r = client.post(path, {**data, "email": ""})
        assert r.status_code == 302
        report = Report.objects.get()
        assert report.description == data["description"]
        assert not ReporterIdentity.objects.filter(report=report).exclude(email="").exists()
        assert ReporterNotice.objects.count() == 0 and mailoutbox == []


@pytest.mark.django_db
class TestOnTheApi:
    def post(self, client, token, reporter):
        payload = report_payload(reporter=reporter, media=[])
        return client.post(
            "/api/v1/reports", json.dumps(payload), "application/json", **auth(token)
        )

    @pytest.mark.parametrize("email", ["not-an-email", "a@b@c", "x" * 250 + "@mail.example"])
    def test_the_report_is_accepted_without_it_and_a_warning_says_so(
        self, client, make_user, run_jobs, mailoutbox, email
    ):
        token = token_for(make_user)
        with run_jobs():
            r = self.post(client, token, {"account_id": "u-5", "email": email, "notify": True})
        assert r.status_code == 201, r.content
        body = r.json()
        report = Report.objects.get()
        assert body["reference"] == report.reference and body["case_id"] == report.case_id
        assert body["warnings"] == [
            {
                "field": "reporter.email",
                "code": "email_dropped",
                "detail": "Not a usable e-mail address: the report was accepted without it, so "
                "no notices will be sent.",
            }
        ]
        identity = ReporterIdentity.objects.get(report=report)
        assert identity.email == "" and identity.account_id == "u-5" and not identity.notify
        assert ReporterNotice.objects.count() == 0 and mailoutbox == []

    def test_asking_to_notify_without_an_address_is_a_warning(self, client, make_user):
        r = self.post(client, token_for(make_user), {"account_id": "u-5", "notify": True})
        assert r.status_code == 201
        assert [w["code"] for w in r.json()["warnings"]] == ["no_email"]

    def test_a_good_request_answers_as_before(self, client, make_user):
        r = self.post(client, token_for(make_user), {"email": "ok@mail.example"})
        assert r.status_code == 201 and set(r.json()) == {"reference", "case_id"}
        assert ReporterIdentity.objects.get().email == "ok@mail.example"
