"""A young person reporting an image of themselves is written to kindly, and the confirmation
page says what Vigil really does next (looked at first; if it is a sexual image of someone under
18, removal asked of the platform and a report to NCMEC), promising nothing more."""

import pytest

from reports.models import Report

SELF = {
    "category": "self_generated",
    "involves_child": True,
    "reporter_kind": Report.ReporterKind.SELF,
    "content_url": "https://social.example/p/me",
}
CSAM_FINDING = {
    "action": "escalate",
    "policy": "child-safety/sexual-exploitation",
    "intent": "malicious",
    "classification": "B2",
}


@pytest.mark.django_db
class TestSelfReportNotices:
    def test_the_received_email_is_kind_and_says_what_happens(self, report_with_email, mailoutbox):
        report = report_with_email(**SELF)
        [message] = mailoutbox
        body = " ".join(message.body.split())
        assert "You did the right thing, and you are not in trouble." in body
        assert "looks at reports like yours first" in body
        assert "we ask Example Social to take it down and we report it to NCMEC" in body
        assert "Your e-mail address is not part of that report" in body
        assert "takeitdown.ncmec.org" in body and "Childline" in body
        assert report.reference in body
        # The subject says nothing of what the report is about: others may see the inbox.
        assert message.subject == f"Example Social: we received your report ({report.reference})"

    def test_the_outcome_email_says_only_whether_action_was_taken(
        self, report_with_email, decide, reviewer, mailoutbox
    ):
        report = report_with_email(**SELF)
        decide(report.case, reviewer, **CSAM_FINDING)
        message = mailoutbox[-1]
        body = " ".join(message.body.split())
        assert "We took action on it." in body and "it was the right thing to do" in body
        for detail in ("escalat", "suspend", "B2", "NCMEC report", "malicious", "rita"):
            assert detail not in body, detail
        assert "takeitdown.ncmec.org" in body

    def test_no_action_is_said_gently_with_a_way_forward(
        self, report_with_email, decide, reviewer, mailoutbox
    ):
        report = report_with_email(**SELF)
        decide(
            report.case, reviewer, action="no_violation", policy="child-safety/sexual-exploitation"
        )
        body = " ".join(mailoutbox[-1].body.split())
        assert "we did not take action on it this time" in body
        assert "please report it again" in body and "none of this is your fault" in body

    def test_choosing_the_category_on_the_general_form_is_a_self_report_too(
        self, report_with_email, mailoutbox
    ):
        report_with_email(category="self_generated", involves_child=True)
        assert "you are not in trouble" in mailoutbox[0].body


@pytest.mark.django_db
class TestReceivedPage:
    def test_the_self_report_page_says_what_really_happens_next(self, client, settings):
        settings.VIGIL_PLATFORM_NAME = "Example Social"
        r = client.post(
            "/report/self/", {"content_url": "https://social.example/p/me"}, follow=True
        )
        page = " ".join(r.content.decode().split())
        assert "A trained reviewer looks at reports like yours first" in page
        assert (
            "If it is a sexual image of someone under 18, we ask Example Social to take it down "
            "and we report it to NCMEC"
        ) in page
        assert "If you gave us an email address, we email you" in page
        # It does not promise what Vigil does not do on its own.
        assert "will be removed" not in page and "we remove" not in page.lower()

    def test_the_general_page_says_what_the_email_will_and_will_not_say(self, client):
        r = client.post(
            "/report/", {"category": "spam", "content_url": "https://a.example/1"}, follow=True
        )
        page = " ".join(r.content.decode().split())
        assert "once it has been reviewed, whether we took action" in page
        assert "we do not say what action, or about whom" in page
        assert "NCMEC" not in page
