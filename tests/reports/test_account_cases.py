"""Account cases: reports about one account adding up to a case about the account itself."""

import pytest

from moderation.cases.accounts import account_tally, evidence_cases
from moderation.cases.models import AccountCaseSettings, Case
from reports.account_rules import ACCOUNT_RULE_SOURCE, account_case_check
from reports.models import ContentItem, Flag
from tests.conversations import report_conversation


def account_cases(account_id="u-9"):
    return Case.objects.filter(
        content_item__type=ContentItem.Type.ACCOUNT, content_item__platform_id=account_id
    )


@pytest.mark.django_db
class TestAccountCases:
    def test_it_opens_an_account_case_when_enough_of_its_posts_are_reported(
        self, submit_report, run_jobs
    ):
        with run_jobs():
            submit_report(owner_id="u-9", owner_handle="@nine", platform_id="p1")
            submit_report(owner_id="u-9", platform_id="p2", category="spam")
        assert not account_cases().exists()
        with run_jobs():
            submit_report(owner_id="u-9", platform_id="p3", category="csam", involves_child=True)
        case = account_cases().get()
        flag = case.flags.get()
        assert flag.source == ACCOUNT_RULE_SOURCE and flag.score == 1.0
        # The most severe of the evidence, and a child involved in it.
        assert case.category == "csam" and case.involves_child
        assert case.content_item.owner_handle == "@nine"
        assert flag.external_id == "u-9:3:0"
        assert {c.content_item.platform_id for c in evidence_cases("u-9")} == {"p1", "p2", "p3"}

    def test_it_opens_one_when_an_adult_talks_to_several_minors(self, run_jobs):
        with run_jobs():
            report_conversation(conversation_id="c1", minor="kid-1")
        assert not account_cases("adult-1").exists()
        with run_jobs():
            report_conversation(conversation_id="c2", minor="kid-2", category="harassment")
        case = account_cases("adult-1").get()
        assert case.category == "grooming" and case.involves_child
        assert case.queue.slug == "child-safety"
        assert account_tally("adult-1").minor_contacts == 2
        # The minors themselves are not flagged for talking to an adult.
        assert not account_cases("kid-1").exists() and not account_cases("kid-2").exists()

    def test_the_same_minor_twice_is_one_contact(self, run_jobs):
        with run_jobs():
            report_conversation(conversation_id="c1", minor="kid-1")
            report_conversation(conversation_id="c2", minor="kid-1")
        assert account_tally("adult-1").minor_contacts == 1
        assert not account_cases("adult-1").exists()

    def test_a_participant_of_unknown_age_is_no_minor(self, run_jobs):
        with run_jobs():
            report_conversation(conversation_id="c1", minor="kid-1", minor_age=None)
            report_conversation(conversation_id="c2", minor="kid-2", minor_age=None)
        assert account_tally("adult-1").minor_contacts == 0

    def test_the_thresholds_are_configurable_and_can_be_turned_off(self, submit_report, run_jobs):
        AccountCaseSettings.objects.update(min_reported_items=2, min_minor_contacts=5)
        with run_jobs():
            submit_report(owner_id="u-9", platform_id="p1")
            submit_report(owner_id="u-9", platform_id="p2")
        assert account_cases().exists()
        AccountCaseSettings.objects.update(enabled=False)
        with run_jobs():
            submit_report(owner_id="u-7", platform_id="p3")
            submit_report(owner_id="u-7", platform_id="p4")
        assert not account_cases("u-7").exists()

    def test_checking_twice_flags_once_and_more_evidence_adds_to_the_case(self, submit_report):
        for i in range(3):
            submit_report(owner_id="u-9", platform_id=f"p{i}")
        first = account_case_check(account_id="u-9")
        assert account_case_check(account_id="u-9") == first
        assert Flag.objects.filter(source=ACCOUNT_RULE_SOURCE).count() == 1
        submit_report(owner_id="u-9", platform_id="p9")
        second = account_case_check(account_id="u-9")
        assert second != first and second.case == first.case
        assert account_cases().count() == 1 and account_cases().get().flags_count == 2

    def test_a_report_about_the_account_itself_is_not_evidence_against_it(self, submit_report):
        submit_report(owner_id="u-9", platform_id="u-9", content_type="account")
        assert account_tally("u-9").reported_items == 0
