"""What a decision on a conversation is about: the whole conversation, one message or a
participant's account, chosen on the case page's form or sent through the API, recorded on the
decision and in its audit event, checked against the conversation (a clear error, never a 500),
and acted on: a message's removal and its sender's account, an account alone, or the reported
participants of the whole conversation."""

import json

import pytest
from django.core.exceptions import ValidationError
from lxml import html as lxml_html

from accounts.roles import Role
from accounts.services import api_token_create
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision
from moderation.enforcement.models import EnforcementAction
from moderation.review.actions import planned_actions
from moderation.review.services import case_decide
from reports.models import Participant
from tests.moderation.review.conversation_helpers import conversation_case

GROOMING = {"policy": "child-safety/grooming", "intent": "malicious"}


def decide(case, user, **fields):
    return case_decide(case_id=case.pk, user=user, **{**GROOMING, **fields})


def actions(case) -> set[tuple[str, str]]:
    return set(EnforcementAction.objects.filter(case=case).values_list("kind", "target"))


@pytest.fixture
def conv(reviewer):
    """Seven messages (m-0 ... m-6: the adult sends the even ones but m-6, which comes from an
    account no report listed), m-1 and m-4 reported; held by the reviewer."""
    conversation = conversation_case(size=7, reported=(1, 4))
    assert case_claim_next(user=reviewer).pk == conversation.case.pk
    return conversation


@pytest.mark.django_db
class TestForm:
    def post(self, client, case, **fields):
        return client.post(f"/cases/{case.pk}/decide/", {"action": "suspend", **GROOMING, **fields})

    def test_it_offers_the_reported_messages_and_the_participants(self, client, reviewer, conv):
        client.force_login(reviewer)
        doc = lxml_html.fromstring(client.get(f"/cases/{conv.case.pk}/").content.decode())
        (fieldset,) = doc.xpath("//fieldset[@data-testid='decision-target-fields']")
        assert fieldset.xpath(".//input[@name='target']/@value") == ["", "message", "account"]
        assert fieldset.xpath(".//input[@name='target'][@checked]/@value") == [""]
        assert fieldset.xpath(".//select[@name='target_message']/option/@value") == [
            "",
            "m-1",
            "m-4",
        ]
        assert fieldset.xpath(".//select[@name='target_account']/option/@value") == [
            "",
            "acct-adult",
            "acct-minor",
            "acct-stranger",
        ]
        # Keys like the actions' digits: w, m, a.
        assert fieldset.xpath(".//label[@data-key]/@data-key") == ["w", "m", "a"]

    def test_it_records_a_reported_message_as_the_target(self, client, reviewer, conv):
        client.force_login(reviewer)
        r = self.post(client, conv.case, target="message", target_message="m-4")
        assert r.status_code == 302
        d = Decision.objects.get()
        assert (d.target, d.target_ref) == ("message", "m-4")

    def test_it_records_any_message_by_its_id(self, client, reviewer, conv):
        client.force_login(reviewer)
        self.post(client, conv.case, target="message", target_message_id=" m-2 ")
        assert Decision.objects.values_list("target", "target_ref").get() == ("message", "m-2")

    def test_it_records_a_participants_account(self, client, reviewer, conv):
        client.force_login(reviewer)
        self.post(client, conv.case, target="account", target_account="acct-adult")
        assert Decision.objects.values_list("target", "target_ref").get() == (
            "account",
            "acct-adult",
        )

    def test_the_whole_conversation_is_the_default(self, client, reviewer, conv):
        client.force_login(reviewer)
        self.post(client, conv.case)
        assert Decision.objects.values_list("target", "target_ref").get() == ("", "")

    @pytest.mark.parametrize(
        "fields, error",
        [
            (
                {"target": "message", "target_message_id": "m-99"},
                "This conversation has no message “m-99”.",
            ),
            ({"target": "message"}, "Choose the message the decision is about."),
            (
                {"target": "message", "target_message": "m-1", "target_message_id": "m-2"},
                "Choose a reported message or type an id, not both.",
            ),
            ({"target": "account"}, "Choose the account the decision is about."),
            (
                {"target": "account", "target_account": "acct-elsewhere"},
                "Select a valid choice. acct-elsewhere is not one of the available choices.",
            ),
            (
                {"target": "", "target_message": "m-1"},
                "You picked a message or an account: choose what the decision is about",
            ),
            (
                {"target": "account", "target_account": "acct-adult", "action": "remove"},
                "A decision about an account removes or restricts no content",
            ),
            ({"target": "everything"}, "Select a valid choice."),
        ],
    )
    def test_a_target_outside_the_conversation_is_a_form_error(
        self, client, reviewer, conv, fields, error
    ):
        client.force_login(reviewer)
        r = self.post(client, conv.case, **fields)
        assert r.status_code == 400
        doc = lxml_html.fromstring(r.content.decode())
        errors = " ".join(
            " ".join(e.text_content().split()) for e in doc.xpath("//*[@role='alert']")
        )
        assert error in errors
        assert not Decision.objects.exists()

    def test_a_cluster_decision_cannot_target_one_message(self, client, reviewer, conv):
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{conv.case.pk}/decide-cluster/",
            {"action": "suspend", **GROOMING, "target": "message", "target_message": "m-1"},
        )
        assert r.status_code == 400
        assert "for this case only" in r.content.decode()
        assert not Decision.objects.exists()

    def test_a_case_about_a_post_has_no_target_fields(self, client, reviewer, submit_report):
        submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert "decision-target-fields" not in page
        # Sent anyway: not a field of this form, so nothing about a message is recorded.
        client.post(
            f"/cases/{case.pk}/decide/",
            {"action": "remove", "policy": "spam", "target": "message", "target_message": "x"},
        )
        assert Decision.objects.values_list("target", "target_ref").get() == ("", "")


@pytest.mark.django_db
class TestService:
    def test_it_records_the_target_and_audits_it(self, reviewer, conv):
        d = decide(conv.case, reviewer, action="warn", target="message", target_ref="m-4")
        assert (d.target, d.target_ref) == ("message", "m-4")
        event = AuditEvent.objects.get(verb="case.decided")
        assert (event.after["target"], event.after["target_ref"]) == ("message", "m-4")

    def test_a_whole_conversation_decision_audits_no_target(self, reviewer, conv):
        decide(conv.case, reviewer, action="warn")
        assert "target" not in AuditEvent.objects.get(verb="case.decided").after

    @pytest.mark.parametrize(
        "target, ref",
        [
            ("message", "m-99"),
            ("account", "acct-elsewhere"),
            ("message", ""),
            ("", "m-1"),
            ("thread", "m-1"),
        ],
    )
    def test_it_refuses_what_is_not_part_of_the_conversation(self, reviewer, conv, target, ref):
        with pytest.raises(ValidationError) as refused:
            decide(conv.case, reviewer, action="warn", target=target, target_ref=ref)
        assert "target" in refused.value.message_dict
        assert not Decision.objects.exists()

    def test_a_message_of_another_conversation_is_not_this_ones(self, reviewer, conv):
        conversation_case(size=12, platform_id="conv-other")
        with pytest.raises(ValidationError):
            decide(conv.case, reviewer, action="warn", target="message", target_ref="m-10")

    def test_a_case_about_a_post_takes_no_target(self, reviewer, submit_report):
        submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        with pytest.raises(ValidationError) as refused:
            case_decide(
                case_id=case.pk,
                user=reviewer,
                action="remove",
                policy="spam",
                target="message",
                target_ref="m-1",
            )
        assert refused.value.message_dict["target"] == [
            "Only a decision on a conversation can be about one message or account."
        ]


@pytest.mark.django_db
class TestApi:
    def post(self, client, user, case, **fields):
        token = api_token_create(user=user, name="cli")[1]
        return client.post(
            f"/api/v1/cases/{case.pk}/decision",
            data=json.dumps({"action": "suspend", **GROOMING, **fields}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    def test_it_takes_a_target_and_answers_with_it(self, client, reviewer, conv):
        r = self.post(client, reviewer, conv.case, target="account", target_ref="acct-adult")
        assert r.status_code == 201
        assert (r.json()["target"], r.json()["target_ref"]) == ("account", "acct-adult")
        assert Decision.objects.values_list("target", "target_ref").get() == (
            "account",
            "acct-adult",
        )

    def test_without_a_target_it_decides_the_whole_conversation(self, client, reviewer, conv):
        r = self.post(client, reviewer, conv.case)
        assert r.status_code == 201
        assert (r.json()["target"], r.json()["target_ref"]) == ("", "")

    @pytest.mark.parametrize(
        "fields, error",
        [
            ({"target": "message", "target_ref": "m-99"}, "invalid_decision"),
            ({"target": "account", "target_ref": ""}, "invalid_decision"),
            ({"target": "thread", "target_ref": "m-1"}, None),
            ({"target": "message", "target_ref": 7}, None),
            ({"target": "message", "target_ref": "m\u0000"}, None),
        ],
    )
    def test_a_bad_target_is_a_json_422(self, client, reviewer, conv, fields, error):
        r = self.post(client, reviewer, conv.case, **fields)
        assert r.status_code == 422
        body = r.json()
        assert set(body) == {"error", "detail"}
        if error:
            assert body["error"] == error and "target" in body["detail"]
        assert not Decision.objects.exists()


@pytest.mark.django_db
class TestPlannedActions:
    def test_a_message_is_removed_and_its_sender_suspended(self, reviewer, conv):
        d = decide(conv.case, reviewer, action="suspend", target="message", target_ref="m-4")
        expected = [("remove_content", "m-4"), ("suspend_account", "acct-adult")]
        assert planned_actions(case=conv.case, decision=d) == expected
        assert actions(conv.case) == set(expected)

    def test_a_warning_about_a_message_goes_to_its_sender(self, make_user, reviewer, conv):
        # The sender is the child: a senior reviewer's decision (a reviewer's is referred).
        senior = make_user("senior-w", Role.SENIOR_REVIEWER)
        Case.objects.filter(pk=conv.case.pk).update(assignee=senior)
        d = decide(
            conv.case,
            senior,
            action="warn",
            safety_notice=True,
            target="message",
            target_ref="m-1",
        )
        assert planned_actions(case=conv.case, decision=d) == [
            ("warn", "acct-minor"),
            ("safety_notice", "acct-minor"),
        ]

    def test_an_account_is_suspended_and_no_content_removed(self, reviewer, conv):
        d = decide(conv.case, reviewer, action="suspend", target="account", target_ref="acct-adult")
        assert planned_actions(case=conv.case, decision=d) == [("suspend_account", "acct-adult")]
        assert actions(conv.case) == {("suspend_account", "acct-adult")}

    def test_an_account_is_warned_with_a_safety_notice(self, reviewer, conv):
        d = decide(
            conv.case,
            reviewer,
            action="warn",
            safety_notice=True,
            target="account",
            target_ref="acct-stranger",
        )
        assert actions(conv.case) == {
            ("warn", "acct-stranger"),
            ("safety_notice", "acct-stranger"),
        }
        assert d.target_ref == "acct-stranger"

    def test_escalating_about_an_account_suspends_it_and_opens_the_escalation(self, reviewer, conv):
        decide(conv.case, reviewer, action="escalate", target="account", target_ref="acct-adult")
        assert actions(conv.case) == {("suspend_account", "acct-adult")}
        assert conv.case.escalations.count() == 1

    def test_the_whole_conversation_acts_on_its_reported_participants(self, reviewer, conv):
        Participant.objects.filter(pk=conv.unlisted.pk).update(reported=True)
        d = decide(conv.case, reviewer, action="suspend")
        assert planned_actions(case=conv.case, decision=d) == [
            ("remove_content", "conv-1"),
            ("suspend_account", "acct-adult"),
            ("suspend_account", "acct-stranger"),
        ]
        # Never the child in it.
        assert ("suspend_account", "acct-minor") not in actions(conv.case)

    def test_without_a_reported_participant_it_acts_on_the_owner(self, reviewer, conv):
        Participant.objects.filter(conversation=conv.item).update(reported=False)
        d = decide(conv.case, reviewer, action="warn")
        assert planned_actions(case=conv.case, decision=d) == [("warn", "acct-adult")]

    def test_a_post_is_acted_on_as_before(self, reviewer, submit_report):
        submit_report(category="spam", platform_id="post-9", owner_id="acct-9")
        case = case_claim_next(user=reviewer)
        d = case_decide(case_id=case.pk, user=reviewer, action="suspend", policy="spam")
        assert planned_actions(case=case, decision=d) == [
            ("remove_content", "post-9"),
            ("suspend_account", "acct-9"),
        ]


@pytest.mark.django_db
class TestShown:
    def test_the_case_and_account_pages_say_what_each_decision_was_about(
        self, client, reviewer, conv, supervisor
    ):
        decide(conv.case, reviewer, action="suspend", target="account", target_ref="acct-adult")
        client.force_login(supervisor)
        doc = lxml_html.fromstring(client.get(f"/cases/{conv.case.pk}/").content.decode())
        targets = [
            " ".join(t.text_content().split())
            for t in doc.xpath("//*[@data-testid='decision-target']")
        ]
        assert targets == ["about the account acct-adult"]
        doc = lxml_html.fromstring(client.get("/platform-accounts/acct-adult/").content.decode())
        (row,) = doc.xpath("//section[@id='decisions']//tr[@data-decision]")
        assert "Suspend account about the account acct-adult" in " ".join(
            row.text_content().split()
        )

    def test_a_whole_conversation_decision_says_so(self, client, reviewer, conv, supervisor):
        decide(conv.case, reviewer, action="warn")
        client.force_login(supervisor)
        doc = lxml_html.fromstring(client.get(f"/cases/{conv.case.pk}/").content.decode())
        targets = [
            " ".join(t.text_content().split())
            for t in doc.xpath("//*[@data-testid='decision-target']")
        ]
        assert targets == ["about the whole conversation"]


@pytest.mark.django_db
class TestAgainstAChild:
    @pytest.mark.parametrize(
        "action, target, ref",
        [
            ("suspend", "account", "acct-minor"),
            ("warn", "message", "m-1"),
            ("escalate", "account", "acct-minor"),
        ],
    )
    def test_a_reviewers_decision_against_a_minor_goes_to_senior_review(
        self, reviewer, conv, action, target, ref
    ):
        d = decide(conv.case, reviewer, action=action, target=target, target_ref=ref)
        assert d.action == "senior_review" and d.proposed_action == action
        assert "a participant who is a minor" in d.referral_reason
        assert not actions(conv.case)

    def test_a_safety_notice_to_a_minor_is_the_reviewers_to_send(self, reviewer, conv):
        d = decide(
            conv.case, reviewer, action="safety_notice", target="account", target_ref="acct-minor"
        )
        assert d.action == "safety_notice"


@pytest.mark.django_db
def test_escalating_about_a_participant_reports_that_participant(reviewer, conv):
    from moderation.escalations.models import Escalation

    decide(conv.case, reviewer, action="escalate", target="account", target_ref="acct-stranger")
    escalation = Escalation.objects.get(cases=conv.case)
    assert escalation.owner_id == "acct-stranger"
