"""The mail server down: the decision is recorded all the same, the notice waits with its error and
is retried with backoff, and sent once the server is back; after the last attempt it is failed,
audited and shown to supervisors. A recipient the server refuses for good fails at once. Real
sockets throughout: a closed port, then a local SMTP listener on it."""

import json

import pytest

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from reports.models import ReporterNotice
from tests.moderation.notices.helpers import drive_notices, smtp_at


@pytest.mark.django_db(transaction=True)
def test_it_retries_until_the_server_is_back_and_never_holds_the_decision_back(
    mail_server_down, mail_server, report_with_email, decide, reviewer
):
    report = report_with_email(email="wren@mail.example", category="harassment")
    received = ReporterNotice.objects.get(kind="received")
    assert received.status == "pending" and received.attempts == 1
    assert "refused" in received.last_error.lower() and received.next_attempt_at is not None

    decide(report.case, reviewer, action="remove")
    # Committed (this test's transactions are real): the decision, the closed case, the notice.
    assert Decision.objects.get(case=report.case).action == "remove"
    assert Case.objects.get(pk=report.case_id).status == "decided"
    outcome = ReporterNotice.objects.get(kind="outcome")
    assert outcome.status == "pending" and outcome.last_error

    mailbox = mail_server(port=mail_server_down)  # the server comes back, on the same port
    drive_notices()
    assert [m["to"] for m in mailbox.messages] == [["wren@mail.example"]] * 2
    for notice in ReporterNotice.objects.all():
        assert notice.status == "sent" and notice.attempts == 2 and notice.sent_at
    assert AuditEvent.objects.filter(verb="notice.sent").count() == 2
    assert not AuditEvent.objects.filter(verb="notice.failed").exists()


@pytest.mark.django_db
class TestGivingUp:
    def test_after_the_last_attempt_it_is_failed_audited_and_shown_to_supervisors(
        self, mail_server_down, report_with_email, client, admin_user
    ):
        report = report_with_email(email="ivy@mail.example")
        drive_notices()
        notice = ReporterNotice.objects.get()
        assert notice.status == "failed" and notice.attempts == 3  # one try, two retries
        assert notice.next_attempt_at is None and notice.sent_at is None
        event = AuditEvent.objects.get(verb="notice.failed")
        assert event.after["reference"] == report.reference and event.after["attempts"] == 3
        assert "refused" in event.after["error"].lower()
        assert "ivy@" not in json.dumps(event.after)

        client.force_login(admin_user)  # admin and up: supervise, with the admin's door
        page = client.get("/admin/reports/reporternotice/?status__exact=failed").content.decode()
        assert report.reference in page and "Failed" in page and "refused" in page.lower()
        assert "ivy@mail.example" not in page
        detail = client.get(f"/admin/reports/reporternotice/{notice.pk}/change/")
        assert detail.status_code == 200 and b'name="status"' not in detail.content  # read-only
        assert client.get("/admin/reports/reporternotice/add/").status_code == 403

    def test_a_recipient_refused_for_good_fails_at_once_without_the_address(
        self, settings, mail_server, report_with_email
    ):
        mailbox = mail_server(refuse=True)
        smtp_at(settings, mailbox.port)
        report_with_email(email="Nobody.Here@mail.example")
        notice = ReporterNotice.objects.get()
        assert notice.status == "failed" and notice.attempts == 1
        assert "550" in notice.last_error and "<reporter address>" in notice.last_error
        assert "nobody.here" not in notice.last_error.lower()
        event = AuditEvent.objects.get(verb="notice.failed")
        assert "nobody.here" not in json.dumps(event.after).lower()
        assert mailbox.messages == []
