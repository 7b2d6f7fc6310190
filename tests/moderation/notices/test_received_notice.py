"""A reporter who left an address hears that their report was received: by e-mail, after the
report commits, with the reference and the link, and nothing about the reported account."""

import json

import pytest
from django.core import mail

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from reports.models import Report, ReporterNotice
from tests.api_helpers import auth, report_payload, token_for
from tests.moderation.notices.helpers import work_jobs


@pytest.mark.django_db
class TestReceivedNotice:
    def test_it_emails_the_reporter_the_reference_and_the_link(self, report_with_email, mailoutbox):
        report = report_with_email(
            email="alex@mail.example",
            content_url="https://social.example/p/123?utm_source=share&fbclid=XYZ",
            platform_id="post-123",
        )
        assert len(mailoutbox) == 1
        message = mailoutbox[0]
        assert message.to == ["alex@mail.example"]
        assert report.reference in message.subject and "Example Social" in message.subject
        assert report.reference in message.body
        # The link as its canonical form: another reporter's click ids never travel with it.
        assert "What you reported: https://social.example/p/123\n" in message.body
        assert "fbclid" not in message.body and "utm_" not in message.body
        assert (
            f"https://report.example.org/report/status/?reference={report.reference}"
            in message.body
        )
        assert message.extra_headers["Auto-Submitted"] == "auto-generated"
        notice = ReporterNotice.objects.get()
        assert (notice.report, notice.kind, notice.status) == (report, "received", "sent")
        assert notice.attempts == 1 and notice.sent_at is not None

    def test_it_says_nothing_about_the_reported_account(self, report_with_email, mailoutbox):
        report_with_email(owner_id="owner-account-77", owner_handle="@owner_handle_77")
        text = mailoutbox[0].subject + mailoutbox[0].body
        assert "owner-account-77" not in text and "owner_handle_77" not in text

    def test_it_is_sent_only_once_the_report_has_committed(
        self, submit_report, django_capture_on_commit_callbacks, mailoutbox
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            submit_report(reporter_email="sam@mail.example", reporter_notify=True)
        assert mailoutbox == [] and ReporterNotice.objects.get().status == "pending"
        for callback in callbacks:
            callback()
        work_jobs()
        assert len(mailoutbox) == 1

    def test_nobody_is_emailed_without_an_address_or_without_asking(
        self, submit_report, run_jobs, mailoutbox
    ):
        with run_jobs():
            submit_report(reporter_ip="203.0.113.9", reporter_notify=True)
            submit_report(reporter_email="quiet@mail.example", reporter_notify=False)
        assert mailoutbox == [] and ReporterNotice.objects.count() == 0

    def test_the_public_form_takes_an_address_as_asking_to_hear_back(
        self, client, run_jobs, mailoutbox
    ):
        page = client.get("/report/").content.decode()
        assert "we will e-mail you that we received your report" in page
        with run_jobs():
            client.post(
                "/report/",
                {
                    "category": "spam",
                    "content_url": "https://a.example/1",
                    "email": "f@mail.example",
                },
            )
        assert [m.to for m in mailoutbox] == [["f@mail.example"]]
        assert Report.objects.get().reporter_identity.notify

    def test_the_platform_asks_with_reporter_notify(self, client, make_user, run_jobs, mailoutbox):
        token = token_for(make_user, role=Role.PLATFORM)
        reporter = {"kind": "platform_user", "account_id": "u-1", "email": "p@mail.example"}

        def post(**extra):
            payload = report_payload(
                content={"id": f"post-{len(extra)}", "url": "https://social.example/p/9"},
                category="harassment",
                involves_child=False,
                media=[],
                reporter={**reporter, **extra},
            )
            return client.post(
                "/api/v1/reports", json.dumps(payload), "application/json", **auth(token)
            )

        with run_jobs():
            assert post().status_code == 201  # notify defaults to false: the address is only kept
        assert mailoutbox == []
        with run_jobs():
            assert post(notify=True).status_code == 201
        assert [m.to for m in mailoutbox] == [["p@mail.example"]]

    def test_the_audit_names_the_reference_never_the_address(self, report_with_email):
        report = report_with_email(email="hidden.person@mail.example")
        event = AuditEvent.objects.get(verb="notice.sent")
        assert event.after == {
            "reference": report.reference,
            "kind": "received",
            "attempts": 1,
        }
        assert event.case_id == report.case_id and event.actor_label == "reporter notices"
        assert "hidden.person" not in json.dumps(
            [e.after for e in AuditEvent.objects.all()]
            + [e.before for e in AuditEvent.objects.all()]
        )
        assert mail.outbox[0].to == ["hidden.person@mail.example"]
