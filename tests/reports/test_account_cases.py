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


@pytest.mark.django_db
class TestWhoIsNeverFlagged:
    def test_bystanders_in_a_group_chat_are_not_counted_as_contacting_minors(self, run_jobs):
        from reports.content import ContentFacts
        from reports.conversation_intake import conversation_report_submit
        from reports.conversations import ConversationFacts, MessageFacts, ParticipantFacts
        from tests.conversations import message_time

        def group(conversation_id, minors):
            people = [ParticipantFacts("adult-1", age=40, age_source="estimated")]
            people += [ParticipantFacts(m, age=13, age_source="stated") for m in minors]
            people += [ParticipantFacts(f"member-{i}") for i in range(5)]
            conversation_report_submit(
                category="grooming",
                reporter_kind="platform_user",
                source="api",
                content=ContentFacts(platform_id=conversation_id, owner_id="adult-1"),
                conversation=ConversationFacts(
                    participants=people,
                    messages=[
                        MessageFacts("g1", "adult-1", message_time(0), "hi kids", reported=True),
                        MessageFacts("g2", "member-1", message_time(1), "hello"),
                    ],
                ),
                actor_label="test",
            )

        with run_jobs():
            group("g-1", ["kid-1", "kid-2"])
        # The reported adult: an account case. The five members of unknown age: none.
        assert account_cases("adult-1").exists()
        assert not Case.objects.filter(content_item__platform_id__startswith="member-").exists()
        assert account_tally("member-1").minor_contacts == 0

    def test_a_child_whose_replies_were_marked_reported_is_never_an_account_case(
        self, submit_report, run_jobs
    ):
        # The child's replies (odd messages) reported in two grooming conversations, and a post
        # of the child's own reported too.
        with run_jobs():
            report_conversation(conversation_id="c1", minor="kid-1", reported=(1, 2))
            report_conversation(conversation_id="c2", minor="kid-1", reported=(3, 2))
            submit_report(owner_id="kid-1", platform_id="kid-post")
        assert account_tally("kid-1").reported_items == 1  # its own post; not the conversations
        assert account_case_check(account_id="kid-1") is None
        assert not account_cases("kid-1").exists()

    def test_an_account_id_too_long_for_the_flag_id_is_flagged_by_its_hash(self, submit_report):
        long_id = "u" * 255
        for i in range(3):
            submit_report(owner_id=long_id, platform_id=f"p{i}")
        flag = account_case_check(account_id=long_id)
        assert flag.external_id.startswith("sha256-") and len(flag.external_id) < 255
        assert flag.content_item.platform_id == long_id


@pytest.mark.django_db
def test_more_evidence_opens_a_decided_account_case_again(submit_report):
    for i in range(3):
        submit_report(owner_id="u-9", platform_id=f"p{i}")
    case = account_case_check(account_id="u-9").case
    Case.objects.filter(pk=case.pk).update(status="decided", decided_at=case.created_at)
    # Checked again with nothing new: stays decided.
    account_case_check(account_id="u-9")
    assert Case.objects.get(pk=case.pk).status == "decided"
    submit_report(owner_id="u-9", platform_id="p9")
    account_case_check(account_id="u-9")
    assert Case.objects.get(pk=case.pk).status == "open"
