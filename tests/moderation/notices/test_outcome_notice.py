"""Once a case is decided, every reporter of it who asked to hear back is told, once, whether
action was taken: never which action, against whom, by whom, or who else reported it."""

import pytest
from django.db import transaction

from accounts.roles import Role
from moderation.decisions.models import Decision
from moderation.notices.services import notices_for_decision
from moderation.review.appeals import appeal_open
from reports.models import ReporterNotice

ACTIONED = "We took action on the content you reported."
NO_VIOLATION = "We reviewed it and did not find that it broke our rules"


def outcome_mail(mailoutbox):
    return [m for m in mailoutbox if "has been reviewed" in m.subject]


@pytest.mark.django_db
class TestOutcomeNotice:
    def test_it_says_action_was_taken_and_never_which(
        self, report_with_email, decide, reviewer, mailoutbox
    ):
        report = report_with_email(category="harassment", platform_id="post-1")
        decide(report.case, reviewer, action="suspend", notes="owner is a repeat offender")
        [message] = outcome_mail(mailoutbox)
        assert message.to == [report.reporter_identity.email]
        assert ACTIONED in message.body and report.reference in message.body
        text = (message.subject + message.body).lower()
        for secret in (
            "suspend",
            "remov",
            "harassment",
            "repeat offender",
            "rita",
            "owner-account",
        ):
            assert secret not in text, secret
        notice = ReporterNotice.objects.get(kind="outcome")
        assert (notice.outcome, notice.status) == ("actioned", "sent")

    def test_no_violation_says_so(self, report_with_email, decide, reviewer, mailoutbox):
        report = report_with_email(category="harassment")
        decide(report.case, reviewer, action="no_violation")
        [message] = outcome_mail(mailoutbox)
        assert NO_VIOLATION in message.body and ACTIONED not in message.body
        assert ReporterNotice.objects.get(kind="outcome").outcome == "no_action"

    def test_a_referral_to_senior_review_is_not_an_outcome(
        self, report_with_email, decide, reviewer, make_user, mailoutbox
    ):
        report = report_with_email(category="harassment")
        decide(report.case, reviewer, action="senior_review")
        assert outcome_mail(mailoutbox) == []
        assert not ReporterNotice.objects.filter(kind="outcome").exists()
        senior = make_user("sena", Role.SENIOR_REVIEWER)
        decide(report.case, senior, action="remove")
        [message] = outcome_mail(mailoutbox)
        assert ACTIONED in message.body

    def test_every_reporter_who_asked_hears_once_and_alone(
        self, report_with_email, submit_report, run_jobs, decide, reviewer, mailoutbox
    ):
        first = report_with_email(email="first@mail.example", platform_id="post-9")
        second = report_with_email(email="second@mail.example", platform_id="post-9")
        with run_jobs():
            submit_report(platform_id="post-9", reporter_ip="198.51.100.1")  # no address
            submit_report(platform_id="post-9", reporter_email="kept@mail.example")  # not asked
        assert first.case_id == second.case_id
        decide(first.case, reviewer, action="remove")
        messages = outcome_mail(mailoutbox)
        assert sorted(m.to[0] for m in messages) == ["first@mail.example", "second@mail.example"]
        for message, mine, theirs in [
            (next(m for m in messages if m.to == ["first@mail.example"]), first, second),
            (next(m for m in messages if m.to == ["second@mail.example"]), second, first),
        ]:
            assert len(message.to) == 1 and not message.cc and not message.bcc
            assert mine.reference in message.body
            assert theirs.reference not in message.body
            assert theirs.reporter_identity.email not in message.body

    def test_an_appeal_that_changes_the_outcome_sends_nothing_more(
        self, report_with_email, decide, reviewer, make_user, mailoutbox
    ):
        report = report_with_email(category="harassment", platform_id="post-7")
        decide(report.case, reviewer, action="remove")
        appeal_open(content_id="post-7", statement="It was satire.", actor_label="api token t")
        other = make_user("otto")
        decided = decide(report.case, other, action="no_violation")
        assert decided.settled_appeal.status == "overturned"
        [message] = outcome_mail(mailoutbox)
        assert ACTIONED in message.body
        assert ReporterNotice.objects.filter(kind="outcome").count() == 1

    def test_someone_who_reported_while_the_appeal_was_open_hears_its_outcome(
        self, report_with_email, decide, reviewer, make_user, mailoutbox
    ):
        first = report_with_email(category="harassment", platform_id="post-8")
        decide(first.case, reviewer, action="remove")
        appeal_open(content_id="post-8", statement="It was satire.", actor_label="api token t")
        during = report_with_email(category="harassment", platform_id="post-8")
        assert during.case_id == first.case_id
        mailoutbox.clear()
        decide(first.case, make_user("otto"), action="no_violation")
        [message] = outcome_mail(mailoutbox)
        assert message.to == [during.reporter_identity.email]
        assert NO_VIOLATION in message.body

    def test_a_report_counted_against_a_decided_case_hears_its_outcome_at_once(
        self, report_with_email, decide, reviewer, mailoutbox
    ):
        first = report_with_email(category="harassment", platform_id="post-3")
        decide(first.case, reviewer, action="no_violation")
        mailoutbox.clear()
        late = report_with_email(category="harassment", platform_id="post-3")
        assert late.case_id == first.case_id and late.case.status == "decided"
        assert sorted(m.subject.split(":")[1].split("(")[0].strip() for m in mailoutbox) == [
            "we received your report",
            "your report has been reviewed",
        ]
        assert NO_VIOLATION in outcome_mail(mailoutbox)[0].body

    def test_a_reopened_case_tells_only_those_not_told_yet(
        self, report_with_email, decide, reviewer, mailoutbox
    ):
        first = report_with_email(category="spam", platform_id="post-5")
        decide(first.case, reviewer, action="no_violation", policy="spam")
        # A more severe category brings something new: the case is reopened.
        reopening = report_with_email(category="harassment", platform_id="post-5")
        assert reopening.case_id == first.case_id
        mailoutbox.clear()
        decide(first.case, reviewer, action="remove")
        assert [m.to for m in outcome_mail(mailoutbox)] == [[reopening.reporter_identity.email]]
        assert dict(
            ReporterNotice.objects.filter(kind="outcome").values_list("report", "outcome")
        ) == {first.pk: "no_action", reopening.pk: "actioned"}

    def test_the_decision_counts_once_even_if_asked_twice(
        self, report_with_email, decide, reviewer, run_jobs
    ):
        report = report_with_email(category="harassment")
        decision = decide(report.case, reviewer, action="remove")
        with run_jobs(), transaction.atomic():
            again = notices_for_decision(
                case=report.case, decision=Decision.objects.get(pk=decision.pk)
            )
        assert again == 0
        assert ReporterNotice.objects.filter(kind="outcome").count() == 1
