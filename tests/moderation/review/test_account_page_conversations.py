"""The account page for an account in conversations: each conversation it took part in (its role
and age there, whether it is the reported account, what it sent and how much of that was
reported, how many minors, the case's status), the decisions about it made on conversations it
does not own, its account case; reachable for an account known only as a participant, and as
blind as the rest of the page for a re-reviewer."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from lxml import html as lxml_html

from accounts.roles import Role
from moderation.cases.models import AccountCaseSettings, Case, Queue
from moderation.decisions.models import Decision, ReReview
from moderation.review.platform_accounts import PER_PAGE
from moderation.review.rereview import rereview_claim_next
from moderation.review.services import case_decide
from reports.account_rules import account_case_check
from reports.models import Message
from tests.conversations import report_conversation

ADULT, MINOR = "acct-adult", "acct-minor"
GROOMING = {"policy": "child-safety/grooming", "intent": "malicious"}


def url(account, query=""):
    return reverse("platform_account", args=[account]) + query


def page(client, account, query=""):
    response = client.get(url(account, query))
    assert response.status_code == 200
    return response, lxml_html.fromstring(response.content.decode())


def words(element) -> str:
    return " ".join(element.text_content().split())


def rows(doc, section: str, attribute: str):
    return doc.xpath(f"//section[@id='{section}']//tr[@{attribute}]")


def conversation(n=0, *, adult=ADULT, minor=MINOR, **kwargs):
    """A grooming conversation of five messages (the adult sends 0, 2, 4; the minor 1, 3),
    message 2 reported unless told otherwise; returns its report."""
    return report_conversation(
        conversation_id=f"conv-{n}", adult=adult, minor=minor, **kwargs
    ).report


def decide_about(case, user, **target):
    """Record a decision on a conversation case as its holder would."""
    Case.objects.filter(pk=case.pk).update(
        assignee=user, lease_expires_at=timezone.now() + timedelta(hours=1)
    )
    return case_decide(case_id=case.pk, user=user, action="suspend", **GROOMING, **target)


@pytest.mark.django_db
class TestConversations:
    def test_it_lists_the_part_a_minor_took_in_a_conversation_it_does_not_own(
        self, client, supervisor
    ):
        report = conversation(reported=(1, 2, 3), minor_age=13)
        client.force_login(supervisor)
        r, doc = page(client, MINOR)
        assert r.context["account"].cases.paginator.count == 0  # it owns nothing
        (row,) = rows(doc, "conversations", "data-conversation")
        text = words(row)
        assert f"Case {report.case_id}" in text and "conv-0" in text
        assert row.xpath(".//a/@href") == [f"/cases/{report.case_id}/"]
        assert words(row.xpath(".//*[@data-testid='role']")[0]) == "Minor, 13 (stated)"
        assert not row.xpath(".//*[@data-testid='reported-participant']")
        # It sent messages 1 and 3, both reported; message 2 is the adult's.
        assert words(row.xpath(".//*[@data-testid='sent']")[0]) == "2, 2 reported"
        assert words(row.xpath(".//*[@data-testid='minors']")[0]) == "1"
        assert text.endswith("Open")
        assert "@kid" in words(doc.xpath("//h1")[0])
        summary = words(doc.xpath("//*[@data-testid='account-summary']")[0])
        assert "1 conversation ·" in summary and "0 cases" in summary

    def test_it_marks_the_reported_account_and_counts_what_it_sent(self, client, supervisor):
        report = conversation(reported=(2,))
        Case.objects.filter(pk=report.case_id).update(
            status=Case.Status.DECIDED, decided_at=timezone.now()
        )
        client.force_login(supervisor)
        _, doc = page(client, ADULT)
        (row,) = rows(doc, "conversations", "data-conversation")
        assert words(row.xpath(".//*[@data-testid='role']")[0]) == "Adult, 34 (estimated)"
        assert row.xpath(".//*[@data-testid='reported-participant']")
        assert words(row.xpath(".//*[@data-testid='sent']")[0]) == "3, 1 reported"
        assert words(row).endswith("Decided")
        # It owns the conversation: the case is among its cases too.
        assert [int(c) for c in doc.xpath("//section[@id='cases']//tr/@data-case")] == [
            report.case_id
        ]

    def test_it_counts_every_minor_and_an_unknown_age(self, client, supervisor):
        conversation(minor_age=None)
        first = conversation(1, minor="acct-other-minor", minor_age=15)
        client.force_login(supervisor)
        _, doc = page(client, ADULT)
        minors = {
            int(tr.get("data-conversation")): words(tr.xpath(".//*[@data-testid='minors']")[0])
            for tr in rows(doc, "conversations", "data-conversation")
        }
        assert minors[first.content_item_id] == "1"
        assert sorted(minors.values()) == ["0", "1"]
        _, doc = page(client, MINOR)
        (row,) = rows(doc, "conversations", "data-conversation")
        assert words(row.xpath(".//*[@data-testid='role']")[0]) == "Age unknown"

    def test_it_shows_a_conversation_once_at_its_latest_case(self, client, supervisor):
        first = conversation()
        Case.objects.filter(pk=first.case_id).update(
            status=Case.Status.DECIDED, decided_at=timezone.now()
        )
        # The item's next case (a conversation reported again once decided may open one).
        later = Case.objects.create(
            content_item=first.content_item,
            queue=first.case.queue,
            category="grooming",
            created_at=timezone.now() + timedelta(minutes=1),
        )
        client.force_login(supervisor)
        r, doc = page(client, MINOR)
        (row,) = rows(doc, "conversations", "data-conversation")
        assert row.xpath(".//a/@href") == [f"/cases/{later.pk}/"]
        assert words(row).endswith("Open")

    def test_it_lists_newest_first_and_pages(self, client, supervisor):
        reports = [conversation(i) for i in range(PER_PAGE + 3)]
        now = timezone.now()
        for age, report in enumerate(reports):  # the first made is the newest
            Case.objects.filter(pk=report.case_id).update(created_at=now - timedelta(hours=age))
        client.force_login(supervisor)
        r, doc = page(client, MINOR)
        shown = [p.case_id for p in r.context["account"].conversations]
        assert shown == [report.case_id for report in reports[:PER_PAGE]]
        assert doc.xpath(
            "//section[@id='conversations']//a[@href='?conversations_page=2#conversations']"
        )
        r, _ = page(client, MINOR, "?conversations_page=2&cases_page=1")
        assert [p.case_id for p in r.context["account"].conversations] == [
            report.case_id for report in reports[PER_PAGE:]
        ]
        assert r.context["account"].conversations.paginator.count == PER_PAGE + 3


@pytest.mark.django_db
class TestWhoSeesWhat:
    def test_an_account_known_only_as_a_participant_is_found_by_those_who_see_a_case(
        self, client, make_user
    ):
        report = conversation()
        assert report.case.queue.slug != "general"
        narrow = make_user("narrow", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        client.force_login(narrow)
        assert client.get(url(MINOR)).status_code == 404
        wide = make_user("wide", Role.REVIEWER)
        client.force_login(wide)
        _, doc = page(client, MINOR)
        assert len(rows(doc, "conversations", "data-conversation")) == 1

    def test_a_reviewer_sees_only_conversations_of_their_queues(self, client, make_user):
        hidden = conversation()
        general = Queue.objects.get(slug="general")
        narrow = make_user("narrow", Role.REVIEWER, queues=[general])
        # A conversation routed to the general queue.
        seen = conversation(1, category="harassment")
        assert seen.case.queue == general
        client.force_login(narrow)
        r, _ = page(client, MINOR)
        assert [p.case_id for p in r.context["account"].conversations] == [seen.case_id]
        assert f"Case {hidden.case_id}" not in r.content.decode()

    def test_decisions_about_it_elsewhere_are_hidden_from_its_blind_re_reviewer(
        self, client, make_user
    ):
        # A senior reviewer's: a reviewer's decision against a child's account is referred.
        alice, bob = make_user("alice", Role.SENIOR_REVIEWER), make_user("bob", Role.REVIEWER)
        report = conversation()
        decision = decide_about(report.case, alice, target="account", target_ref=MINOR)
        assert decision.action == "suspend"
        ReReview.objects.create(decision=decision, case=report.case, queue=report.case.queue)
        assert rereview_claim_next(user=bob) is not None
        client.force_login(bob)
        _, doc = page(client, MINOR)
        assert not rows(doc, "decisions", "data-decision")
        # The conversation itself is listed, as the cases section lists a blind case.
        assert len(rows(doc, "conversations", "data-conversation")) == 1
        client.force_login(alice)
        _, doc = page(client, MINOR)
        assert [int(d) for d in doc.xpath("//tr/@data-decision")] == [decision.pk]


@pytest.mark.django_db
class TestDecisionsAboutIt:
    def test_it_lists_decisions_about_its_account_and_its_messages(self, client, make_user):
        reviewer = make_user("deciding", Role.SENIOR_REVIEWER)
        about_account = decide_about(
            conversation(0).case, reviewer, target="account", target_ref=MINOR
        )
        # Message 3 of conv-1 is the minor's.
        about_message = decide_about(
            conversation(1, texts={3: "a picture of me"}).case,
            reviewer,
            target="message",
            target_ref="conv-1-m3",
        )
        # About another account, about the adult's message, about the whole conversation.
        others = [
            decide_about(conversation(2).case, reviewer, target="account", target_ref=ADULT),
            decide_about(conversation(3).case, reviewer, target="message", target_ref="conv-3-m2"),
            decide_about(conversation(4).case, reviewer),
        ]
        client.force_login(reviewer)
        _, doc = page(client, MINOR)
        shown = {
            int(tr.get("data-decision")): words(tr)
            for tr in rows(doc, "decisions", "data-decision")
        }
        assert set(shown) == {about_account.pk, about_message.pk}
        assert f"about the account {MINOR}" in shown[about_account.pk]
        assert "Conversation conv-0 · not this account's" in shown[about_account.pk]
        assert "about the message conv-1-m3" in shown[about_message.pk]
        assert "“a picture of me”" in shown[about_message.pk]
        summary = words(doc.xpath("//*[@data-testid='account-summary']")[0])
        assert "2 decisions" in summary
        # The adult's page: its own conversations' decisions, whatever they are about.
        _, doc = page(client, ADULT)
        assert {int(d) for d in doc.xpath("//section[@id='decisions']//tr/@data-decision")} == {
            about_account.pk,
            about_message.pk,
            *(d.pk for d in others),
        }
        assert not doc.xpath("//section[@id='decisions']//*[@data-testid='not-owned']")

    def test_a_message_of_the_same_id_in_another_conversation_is_not_its(self, client, make_user):
        reviewer = make_user("deciding", Role.SENIOR_REVIEWER)
        # The minor sent "shared-id" in one conversation; in another, the adult sent a message
        # with the same id, and the decision is about that one.
        mine = conversation(0, minor=MINOR)
        Message.objects.filter(conversation=mine.content_item, platform_id="conv-0-m1").update(
            platform_id="shared-id"
        )
        theirs = conversation(1, minor=MINOR)
        Message.objects.filter(conversation=theirs.content_item, platform_id="conv-1-m2").update(
            platform_id="shared-id"
        )
        decision = Decision.objects.create(
            case=theirs.case,
            reviewer=reviewer,
            action="remove",
            target="message",
            target_ref="shared-id",
            **GROOMING,
        )
        client.force_login(reviewer)
        _, doc = page(client, MINOR)
        assert str(decision.pk) not in doc.xpath("//tr/@data-decision")


@pytest.mark.django_db
class TestAccountCase:
    def test_it_links_the_account_case(self, client, supervisor, make_user):
        AccountCaseSettings.objects.update(min_minor_contacts=2)
        conversation(0, minor="minor-a")
        conversation(1, minor="minor-b")
        account_case = account_case_check(account_id=ADULT).case
        client.force_login(supervisor)
        _, doc = page(client, ADULT)
        (link,) = doc.xpath("//*[@data-testid='account-case']//a")
        assert words(link) == f"Account case {account_case.pk}: open"
        assert link.get("href") == f"/cases/{account_case.pk}/"
        Case.objects.filter(pk=account_case.pk).update(
            status=Case.Status.DECIDED, decided_at=timezone.now()
        )
        _, doc = page(client, ADULT)
        assert words(doc.xpath("//*[@data-testid='account-case']//a")[0]).endswith(": decided")
        # Not on the page of an account that has none, nor for a reader who may not see it.
        _, doc = page(client, "minor-a")
        assert not doc.xpath("//*[@data-testid='account-case']")
        # A reviewer of the conversations' queue, the account case moved to another.
        conversations_queue = account_case.queue
        Case.objects.filter(pk=account_case.pk).update(queue=Queue.objects.get(slug="general"))
        client.force_login(make_user("narrow", Role.REVIEWER, queues=[conversations_queue]))
        r, doc = page(client, ADULT)
        assert r.context["account"].conversations.paginator.count == 2
        assert not doc.xpath("//*[@data-testid='account-case']")
