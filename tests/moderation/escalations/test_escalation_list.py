"""The escalation list: who holds each escalation and since when, the work filters the inbox links
to, and a query count that does not grow with the number of escalations."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from moderation.escalations.services import escalation_open, escalation_update_details
from tests.moderation.escalation_fixtures import DETAILS, prepared


def rows(response) -> dict[int, str]:
    """Each listed escalation's row HTML, by id."""
    html = response.content.decode()
    found = {}
    for e in response.context["page"]:
        marker = f'<a href="{reverse("escalation_detail", args=[e.pk])}">'
        found[e.pk] = html.split(marker)[1].split("</tr>")[0]
    return found


def listed(client, query: str = "") -> list[int]:
    response = client.get(reverse("escalations") + query)
    assert response.status_code == 200
    return sorted(e.pk for e in response.context["page"])


def event_time(escalation, verb):
    return AuditEvent.objects.get(
        verb=verb, object_type="moderation.escalation", object_id=str(escalation.pk)
    ).created_at


@pytest.mark.django_db
class TestHeldBy:
    def test_it_shows_who_holds_each_escalation_and_since_when_it_is_in_its_state(
        self, client, escalate, make_user
    ):
        draft, rev1 = escalate(owner="a")
        waiting, rev2 = escalate(owner="b")
        prepared(waiting, rev2)
        client.force_login(make_user("sen", Role.SENIOR_REVIEWER))
        response = client.get(reverse("escalations"))
        row = rows(response)

        assert f'data-testid="held-by">{rev1.get_username()}<' in row[draft.pk]
        assert f'data-testid="held-by">{rev2.get_username()}<' in row[waiting.pk]
        # "Since" is when it entered its state: opened for the draft, asked for the other.
        by_pk = {e.pk: e for e in response.context["page"]}
        assert by_pk[draft.pk].state_since == event_time(draft, "escalation.opened")
        asked = event_time(waiting, "escalation.approval_requested")
        assert by_pk[waiting.pk].state_since == asked
        assert asked > event_time(waiting, "escalation.opened")
        assert (
            f'since <time datetime="{timezone.localtime(asked):%Y-%m-%dT%H:%M:%S}'
            in (row[waiting.pk])
        )

    def test_a_draft_a_bank_policy_opened_is_held_by_whoever_writes_its_report(
        self, client, submit_report, make_user
    ):
        report = submit_report(category="csam", owner_id="acct-b")
        escalation = escalation_open(case=report.case, reason="bank match", actor_label="bank")
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        client.force_login(senior)
        row = rows(client.get(reverse("escalations")))[escalation.pk]
        assert "nobody yet" in row and "opened by a bank policy" in row

        escalation_update_details(escalation_id=escalation.pk, user=senior, **DETAILS)
        row = rows(client.get(reverse("escalations")))[escalation.pk]
        assert 'data-testid="held-by">sen<' in row

    def test_without_history_it_is_in_its_state_since_it_was_opened(
        self, client, escalate, make_user
    ):
        escalation, _ = escalate()
        Escalation.objects.filter(pk=escalation.pk).update(
            status="failed", failure_reason="x", approved_by=make_user("boss", Role.SUPERVISOR)
        )
        client.force_login(make_user("sen", Role.SENIOR_REVIEWER))
        page = client.get(reverse("escalations")).context["page"]
        # The opened event is the newest state change it has: its creation, in effect.
        assert page[0].state_since == event_time(escalation, "escalation.opened")


@pytest.fixture
def one_of_each(escalate, make_user):
    """An escalation in each state the inbox counts, and one of each the filters must leave out."""
    boss = make_user("boss", Role.SUPERVISOR)
    made = {}
    for name in [
        "draft",
        "awaiting",
        "ready",
        "sending",
        "failed_assembly",
        "failed_submission",
        "submitted",
    ]:
        made[name], reviewer = escalate(owner=name)
        if name != "draft":
            prepared(made[name], reviewer)
    approved = {"approved_by": boss}
    packet = {**approved, "packet_sha256": "ab" * 32}
    now = timezone.now()
    changes = {
        "ready": {"status": "ready", **packet},
        "sending": {"status": "ready", "submission_started_at": now, **packet},
        "failed_assembly": {"status": "failed", "failure_reason": "invalid", **approved},
        "failed_submission": {"status": "failed", "failure_reason": "HTTP 500", **packet},
        "submitted": {
            "status": "submitted",
            "report_id": 77,
            "submitted_at": now,
            "preserve_until": now,
            **packet,
        },
    }
    for name, fields in changes.items():
        Escalation.objects.filter(pk=made[name].pk).update(**fields)
    return {name: e.pk for name, e in made.items()}, boss


@pytest.mark.django_db
class TestFilters:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("?status=awaiting_approval", ["awaiting"]),
            ("?status=ready_to_submit", ["ready"]),
            ("?status=failed_assembly", ["failed_assembly"]),
            ("?status=failed_submission", ["failed_submission"]),
            # The filters that were there before keep working.
            ("?status=ready", ["ready", "sending"]),
            ("?status=failed", ["failed_assembly", "failed_submission"]),
            ("?status=draft", ["draft"]),
            ("?status=submitted", ["submitted"]),
            (
                "",
                ["draft", "awaiting", "ready", "sending", "failed_assembly", "failed_submission"],
            ),
            (
                "?status=nonsense",
                ["draft", "awaiting", "ready", "sending", "failed_assembly", "failed_submission"],
            ),
        ],
    )
    def test_each_filter_lists_what_it_names(self, client, one_of_each, query, expected):
        ids, boss = one_of_each
        client.force_login(boss)
        assert listed(client, query) == sorted(ids[name] for name in expected)

    def test_the_work_filters_are_offered_in_the_list(self, client, one_of_each):
        _, boss = one_of_each
        client.force_login(boss)
        html = client.get(reverse("escalations") + "?status=ready_to_submit").content.decode()
        assert '<option value="ready_to_submit" selected>Ready to submit</option>' in html
        assert '<option value="failed_assembly" >Failed to assemble</option>' in html
        assert '<option value="failed_submission" >Failed to submit</option>' in html

    def test_a_reviewer_filtering_still_sees_only_their_own(self, client, one_of_each, make_user):
        ids, _ = one_of_each
        client.force_login(make_user("stranger"))
        assert listed(client, "?status=failed_assembly") == []

    def test_mine_keeps_the_ones_this_person_opened(self, client, escalate, make_user):
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        own, _ = escalate(reviewer=senior, owner="a")
        other, _ = escalate(owner="b")
        client.force_login(senior)
        assert listed(client, "?status=draft") == sorted([own.pk, other.pk])
        response = client.get(reverse("escalations") + "?status=draft&mine=1")
        assert [e.pk for e in response.context["page"]] == [own.pk]
        assert b'data-testid="only-mine"' in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.SENIOR_REVIEWER, Role.SUPERVISOR])
def test_it_takes_the_same_queries_for_two_escalations_as_for_eight(
    client, escalate, make_user, role
):
    viewer = make_user("viewer", role)
    boss = make_user("boss", Role.SUPERVISOR)

    def count_queries() -> tuple[int, int]:
        # The navigation's inbox counts are cached for a while: count them both times.
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("escalations") + "?status=all")
        assert response.status_code == 200
        return len(queries), len(response.context["page"])

    def add(owners):
        for owner in owners:
            escalation, reviewer = escalate(owner=owner)
            if owner in "bdfh":
                # Asked for approval, approved, held: every user the row names.
                prepared(escalation, reviewer)
                Escalation.objects.filter(pk=escalation.pk).update(
                    status="failed",
                    failure_reason="x",
                    approved_by=boss,
                    legal_hold=True,
                    legal_hold_by=boss,
                )

    add("ab")
    client.force_login(viewer)
    two, shown = count_queries()
    assert shown == 2
    add("cdefgh")
    eight, shown = count_queries()
    assert shown == 8
    assert eight == two
