"""An account case: its page lists the evidence (the conversations and posts reports added up
to) in a fixed number of queries, and a decision on the account acts on all of it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from lxml import html as lxml_html

from moderation.cases.models import Case
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from moderation.review.services import case_decide
from tests.conversations import report_conversation

GROOMING = {"policy": "child-safety/grooming", "intent": "malicious"}


def hold(case, user):
    Case.objects.filter(pk=case.pk).update(
        assignee=user, lease_expires_at=timezone.now() + timedelta(minutes=15)
    )


def account_case(account_id="adult-1") -> Case:
    return Case.objects.get(content_item__type="account", content_item__platform_id=account_id)


@pytest.fixture
def evidence(submit_report, run_jobs):
    """Two conversations of adult-1 with two minors (its message 2 reported in each) and a post
    of its reported: the account case opens."""
    with run_jobs():
        report_conversation(conversation_id="c1", minor="kid-1")
        report_conversation(conversation_id="c2", minor="kid-2")
        submit_report(owner_id="adult-1", platform_id="post-9", category="grooming")
    return account_case()


def page(client, case):
    return lxml_html.fromstring(client.get(f"/cases/{case.pk}/").content.decode())


@pytest.mark.django_db
class TestAccountCasePage:
    def test_it_lists_the_evidence_and_the_minors(self, client, reviewer, evidence):
        hold(evidence, reviewer)
        client.force_login(reviewer)
        doc = page(client, evidence)
        (section,) = doc.xpath("//section[@data-testid='account-evidence']")
        text = " ".join(section.text_content().split())
        assert "3 different things the account posted or sent were reported" in text
        assert "in reported conversations with 2 minors" in text
        rows = section.xpath(".//tbody/tr")
        assert len(rows) == 3
        kinds = sorted(" ".join(r.xpath("./td[2]")[0].text_content().split()) for r in rows)
        assert kinds == ["Conversation", "Conversation", "Other"]
        assert "@kid" in text and "13 (stated)" in text
        # Reviewers certified for the queue open the evidence from here.
        links = section.xpath(".//tbody//a/@href")
        assert len(links) == 3

    def test_evidence_beyond_the_readers_queues_is_listed_without_a_link(
        self, client, reviewer, evidence
    ):
        from moderation.cases.models import Queue

        elsewhere = Queue.objects.exclude(pk=evidence.queue_id).exclude(
            slug__in=reviewer.certifications.values("queue__slug")
        ).first() or Queue.objects.create(slug="elsewhere", name="Elsewhere", order=99)
        Case.objects.filter(content_item__platform_id="post-9").update(queue=elsewhere)
        hold(evidence, reviewer)
        client.force_login(reviewer)
        section = page(client, evidence).xpath("//section[@data-testid='account-evidence']")[0]
        assert len(section.xpath(".//tbody//a")) == 2
        assert "(not in your queues)" in section.text_content()
        # Of a case beyond their queues, only that it exists: not its category or decision.
        (row,) = [
            r for r in section.xpath(".//tbody/tr") if "not in your queues" in r.text_content()
        ]
        assert "Grooming" not in row.text_content() and "Open" not in row.text_content()

    def test_its_queries_do_not_grow_with_the_evidence(
        self, client, supervisor, evidence, run_jobs
    ):
        # Read by a supervisor, who does not hold it: no lease renewed by one request and not
        # the other (new evidence joins the case while the test adds it).
        client.force_login(supervisor)
        client.get(f"/cases/{evidence.pk}/")  # what a first visit does once (its session)
        with CaptureQueriesContext(connection) as few:
            client.get(f"/cases/{evidence.pk}/")
        with run_jobs():
            for n in range(3, 9):
                report_conversation(conversation_id=f"c{n}", minor=f"kid-{n}")
        with CaptureQueriesContext(connection) as many:
            r = client.get(f"/cases/{evidence.pk}/")
        assert b"in reported conversations with <strong>8 minors" in r.content
        assert len(many) == len(few), (len(few), len(many))


@pytest.mark.django_db
class TestDecisionsOnTheAccount:
    def test_suspending_the_account_removes_everything_it_posted_or_sent(self, reviewer, evidence):
        hold(evidence, reviewer)
        case_decide(case_id=evidence.pk, user=reviewer, action="suspend", **GROOMING)
        actions = set(EnforcementAction.objects.filter(case=evidence).values_list("kind", "target"))
        assert actions == {
            ("suspend_account", "adult-1"),
            ("remove_content", "post-9"),
            ("remove_content", "c1-m2"),
            ("remove_content", "c2-m2"),
        }

    def test_escalating_reports_the_account_with_its_conversations_and_posts(
        self, reviewer, evidence
    ):
        hold(evidence, reviewer)
        case_decide(case_id=evidence.pk, user=reviewer, action="escalate", **GROOMING)
        escalation = Escalation.objects.get()
        assert escalation.owner_id == "adult-1"
        gathered = set(escalation.cases.values_list("content_item__platform_id", flat=True))
        assert gathered == {"adult-1", "c1", "c2", "post-9"}
        assert ("suspend_account", "adult-1") in set(
            EnforcementAction.objects.filter(case=evidence).values_list("kind", "target")
        )


@pytest.mark.django_db
def test_evidence_a_reviewer_cleared_is_neither_removed_nor_reported(reviewer, evidence):
    from moderation.decisions.models import Decision

    post = Case.objects.get(content_item__platform_id="post-9")
    Decision.objects.create(case=post, reviewer=reviewer, action="no_violation", policy="ok")
    Case.objects.filter(pk=post.pk).update(status="decided", decided_at=timezone.now())
    hold(evidence, reviewer)
    case_decide(case_id=evidence.pk, user=reviewer, action="escalate", **GROOMING)
    actions = set(EnforcementAction.objects.filter(case=evidence).values_list("kind", "target"))
    assert ("remove_content", "post-9") not in actions
    assert ("remove_content", "c1-m2") in actions
    escalation = Escalation.objects.get(cases=evidence)
    assert set(escalation.cases.values_list("content_item__platform_id", flat=True)) == {
        "adult-1",
        "c1",
        "c2",
    }


@pytest.mark.django_db
def test_evidence_already_in_another_report_is_not_reported_twice(reviewer, evidence):
    from django.db import transaction

    from moderation.escalations.services import escalation_open

    c2 = Case.objects.get(content_item__platform_id="c2")
    with transaction.atomic():
        other = escalation_open(case=c2, reason="escalated on its own", user=reviewer)
    Escalation.objects.filter(pk=other.pk).update(owner_id="someone-else")
    hold(evidence, reviewer)
    case_decide(case_id=evidence.pk, user=reviewer, action="escalate", **GROOMING)
    escalation = Escalation.objects.exclude(pk=other.pk).get(cases=evidence)
    assert "c2" not in set(escalation.cases.values_list("content_item__platform_id", flat=True))
