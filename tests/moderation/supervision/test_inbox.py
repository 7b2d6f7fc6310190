"""The inbox in the navigation: what waits on the signed-in person's role, counted in one query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from moderation.cases.models import Queue
from moderation.cases.services import case_claim_next
from moderation.decisions.models import ReReview
from moderation.enforcement.models import WebhookDelivery
from moderation.enforcement.services import action_request
from moderation.escalations.models import Escalation
from moderation.escalations.services import escalation_open
from moderation.review.appeals import appeal_open
from moderation.review.services import case_decide
from moderation.supervision.inbox import inbox

S = Escalation.Status


@pytest.fixture
def people(make_user):
    return {
        "reviewer": make_user("rev", Role.REVIEWER),
        "senior": make_user("sen", Role.SENIOR_REVIEWER),
        "supervisor": make_user("sup", Role.SUPERVISOR),
    }


@pytest.fixture
def escalations(submit_report):
    """Escalations opened by `user`, one per status asked for."""

    def make(user, *statuses):
        made = []
        for status in statuses:
            case = submit_report(category="spam").case
            escalation = escalation_open(case=case, reason="test", user=user)
            changes = {"status": status}
            if status in (S.READY, S.FAILED):
                changes.update(approved_by=user, approved_at=timezone.now())
            if status == S.READY:
                changes["packet_sha256"] = "ab" * 32
            if status == S.FAILED:
                changes["failure_reason"] = "test"
            Escalation.objects.filter(pk=escalation.pk).update(**changes)
            made.append(escalation)
        return made

    return make


def counts(user) -> dict[str, int]:
    return {item.key: item.count for item in inbox(user).items}


@pytest.mark.django_db
class TestInbox:
    def test_it_is_empty_when_nothing_waits(self, people):
        assert counts(people["supervisor"]) == {}
        assert inbox(people["supervisor"]).total == 0

    def test_it_shows_each_role_only_the_work_it_can_do(self, people, escalations):
        escalations(people["reviewer"], S.DRAFT, S.AWAITING_APPROVAL, S.READY, S.FAILED)
        assert counts(people["reviewer"]) == {"drafts": 1}
        assert counts(people["senior"]) == {"approval": 1}
        assert counts(people["supervisor"]) == {
            "approval": 1,
            "ready": 1,
            "failed_assembly": 1,
        }

    def test_it_tells_failed_assemblies_from_failed_submissions(self, people, escalations):
        assembly, submission = escalations(people["reviewer"], S.FAILED, S.FAILED)
        Escalation.objects.filter(pk=submission.pk).update(packet_sha256="ab" * 32)
        found = counts(people["supervisor"])
        assert found["failed_assembly"] == 1 and found["failed_submission"] == 1

    def test_it_counts_failed_deliveries_and_disagreements_for_supervisors(
        self, people, submit_report, make_user
    ):
        case = submit_report(category="spam").case
        action = action_request(case=case, kind="remove_content", target="p-1", reason="test")
        action.deliveries.update(status=WebhookDelivery.Status.FAILED)
        decided = submit_report(category="spam").case
        claimed = case_claim_next(user=people["reviewer"])
        decision = case_decide(
            case_id=claimed.pk, user=people["reviewer"], action="no_violation", policy=""
        )
        ReReview.objects.create(
            decision=decision,
            case=decided,
            queue=decided.queue,
            status=ReReview.Status.DISAGREED,
            reviewed_by=people["senior"],
            reviewed_at=timezone.now(),
            action="remove",
        )
        found = counts(people["supervisor"])
        assert found["failed_delivery"] == 1 and found["disagreements"] == 1
        assert "failed_delivery" not in counts(people["senior"])

    def test_it_counts_appeals_for_those_certified_for_the_appeals_queue(
        self, people, submit_report, make_user
    ):
        submit_report(category="harassment", platform_id="post-7", owner_id="owner-1")
        case = case_claim_next(user=people["reviewer"])
        case_decide(case_id=case.pk, user=people["reviewer"], action="suspend", policy="harassment")
        appeal_open(content_id="post-7", statement="It was a joke.", actor_label="t")
        assert counts(people["senior"])["appeals"] == 1
        others = Queue.objects.exclude(for_appeals=True)
        uncertified = make_user("nocert", Role.SENIOR_REVIEWER, queues=list(others))
        assert "appeals" not in counts(uncertified)

    def test_each_item_leads_to_its_filtered_list(self, people, escalations):
        escalations(people["supervisor"], S.DRAFT, S.AWAITING_APPROVAL, S.READY)
        urls = {item.key: item.url for item in inbox(people["supervisor"]).items}
        assert urls["approval"] == reverse("escalations") + "?status=awaiting_approval"
        assert urls["ready"] == reverse("escalations") + "?status=ready_to_submit"
        assert urls["drafts"] == reverse("escalations") + "?status=draft&mine=1"

    def test_it_counts_in_one_query_whatever_the_data_and_keeps_it_briefly(
        self, people, escalations
    ):
        supervisor = people["supervisor"]
        supervisor.has_perm("accounts.review_cases")  # permissions are read once per user
        escalations(supervisor, S.AWAITING_APPROVAL)
        with CaptureQueriesContext(connection) as few:
            inbox(supervisor)
        from django.core.cache import cache

        cache.clear()
        escalations(supervisor, *[S.AWAITING_APPROVAL, S.READY, S.FAILED] * 4)
        with CaptureQueriesContext(connection) as many:
            found = inbox(supervisor)
        assert len(few) == len(many) == 1
        assert found.total == 13
        with CaptureQueriesContext(connection) as again:
            inbox(supervisor)
        assert len(again) == 0


@pytest.mark.django_db
class TestInboxInTheNavigation:
    def test_it_shows_counts_linking_to_their_lists(self, client, people, escalations):
        escalations(people["reviewer"], S.AWAITING_APPROVAL, S.AWAITING_APPROVAL)
        client.force_login(people["senior"])
        html = client.get(reverse("dashboard")).content.decode()
        assert 'data-inbox-item="approval"' in html
        assert "Escalations awaiting approval" in html
        assert f'href="{reverse("escalations")}?status=awaiting_approval"' in html

    def test_it_is_absent_when_nothing_waits_and_for_the_public(self, client, people):
        client.force_login(people["reviewer"])
        assert "data-inbox" not in client.get(reverse("dashboard")).content.decode()
        client.logout()
        assert "data-inbox" not in client.get(reverse("report")).content.decode()

    def test_each_escalation_item_lists_what_it_counted(self, client, people, escalations):
        supervisor = people["supervisor"]
        made = escalations(supervisor, S.DRAFT, S.AWAITING_APPROVAL, S.READY, S.FAILED)
        client.force_login(supervisor)
        for item in inbox(supervisor).items:
            page = client.get(item.url)
            assert page.status_code == 200
            shown = {e.pk for e in page.context["page"].object_list}
            assert len(shown) == item.count, item.key
            assert shown <= {e.pk for e in made}

    def test_the_appeals_item_leads_to_the_appeals_queue_on_the_dashboard(
        self, client, people, submit_report
    ):
        submit_report(category="harassment", platform_id="post-7", owner_id="owner-1")
        case = case_claim_next(user=people["reviewer"])
        case_decide(case_id=case.pk, user=people["reviewer"], action="suspend", policy="harassment")
        appeal_open(content_id="post-7", statement="It was a joke.", actor_label="t")
        (item,) = inbox(people["senior"]).items
        path, anchor = item.url.split("#")
        client.force_login(people["senior"])
        html = client.get(path).content.decode()
        assert f'id="{anchor}"' in html and 'data-testid="queue-appeals"' in html

    def test_the_drafts_list_keeps_to_one_s_own_when_filtered_again(
        self, client, people, escalations
    ):
        escalations(people["reviewer"], S.DRAFT)
        (item,) = inbox(people["reviewer"]).items
        client.force_login(people["reviewer"])
        html = client.get(item.url).content.decode()
        assert '<input type="hidden" name="mine" value="1">' in html
