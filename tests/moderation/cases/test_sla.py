"""SLAs drive the work: time past a queue's SLA weighs in priority (with a line in the breakdown)
and decides which queue "Review next" serves first; the dashboard marks breaches."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from moderation.cases.models import Case
from moderation.cases.priority import PriorityInputs, compute_priority, hours_text
from moderation.cases.queue_stats import queue_counts_compute
from moderation.cases.rollup import case_refresh_priority
from moderation.cases.services import case_claim_next, queue_serving_key

NOW = timezone.now()


def inputs(waited: timedelta, sla_minutes=60) -> PriorityInputs:
    return PriorityInputs(
        category="self_generated",
        involves_child=True,
        reporters_count=1,
        max_flag_score=None,
        waiting_since=NOW - waited,
        sla_minutes=sla_minutes,
    )


def waited(case_id: int, delta: timedelta) -> Case:
    """The case has waited `delta` (its priority recomputed as the periodic refresh does)."""
    Case.objects.filter(pk=case_id).update(waiting_since=timezone.now() - delta)
    with transaction.atomic():
        case = Case.objects.select_related("queue", "content_item").get(pk=case_id)
        case_refresh_priority(case=case)
    return case


class TestPriority:
    def test_within_the_sla_nothing_is_added(self):
        _, parts = compute_priority(inputs(timedelta(minutes=59)), now=NOW)
        assert not any("SLA" in p["label"] for p in parts)

    def test_a_case_five_minutes_late_is_late(self):
        _, parts = compute_priority(inputs(timedelta(minutes=65)), now=NOW)
        assert {"label": "past its 1 h SLA by 5 min", "points": 150 + 50} in parts

    def test_each_hour_begun_adds_up_to_the_cap(self):
        _, parts = compute_priority(inputs(timedelta(hours=3, minutes=30)), now=NOW)
        assert {"label": "past its 1 h SLA by 2.5 h", "points": 150 + 3 * 50} in parts
        _, parts = compute_priority(inputs(timedelta(hours=30)), now=NOW)
        assert {"label": "past its 1 h SLA by 29 h", "points": 400} in parts

    def test_slas_read_in_hours(self):
        assert [hours_text(m) for m in (45, 60, 90, 240, 24 * 60)] == [
            "45 min",
            "1 h",
            "1.5 h",
            "4 h",
            "24 h",
        ]


class TestServingOrder:
    def test_a_late_head_beats_any_head_within_its_sla(self):
        late = queue_serving_key(
            priority=400, waiting_since=NOW - timedelta(minutes=61), pk=1, sla_minutes=60, now=NOW
        )
        top = queue_serving_key(
            priority=6000, waiting_since=NOW - timedelta(minutes=5), pk=2, sla_minutes=60, now=NOW
        )
        assert late < top

    def test_among_late_heads_the_furthest_past_relative_to_its_sla_goes_first(self):
        hour_queue = queue_serving_key(
            priority=10, waiting_since=NOW - timedelta(hours=2), pk=1, sla_minutes=60, now=NOW
        )
        day_queue = queue_serving_key(
            priority=900, waiting_since=NOW - timedelta(hours=27), pk=2, sla_minutes=1440, now=NOW
        )
        assert hour_queue < day_queue


@pytest.mark.django_db
class TestReviewNext:
    def test_the_self_reports_queue_is_served_first_while_in_breach(self, reviewer, submit_report):
        self_report = submit_report(category="self_generated", involves_child=True)
        # A higher-priority case in another queue, within its SLA: child sexual abuse material
        # with a child involved, its media matched in a bank.
        other = submit_report(category="csam", involves_child=True)
        Case.objects.filter(pk=other.case_id).update(
            bank_match_level=1, bank_match_label="bank match: Grooming images"
        )
        assert other.case.queue.slug == "child-safety"
        late = waited(self_report.case_id, timedelta(hours=2))
        fresh = waited(other.case_id, timedelta(minutes=10))
        assert late.queue.slug == "self-reports"
        # By priority alone the other queue's head would be served.
        assert fresh.priority > late.priority
        assert any("past its 1 h SLA" in p["label"] for p in late.priority_breakdown)
        assert case_claim_next(user=reviewer).pk == self_report.case_id

    def test_without_a_breach_the_highest_priority_goes_first(self, reviewer, submit_report):
        self_report = submit_report(category="self_generated", involves_child=True)
        other = submit_report(category="csam", involves_child=True)
        waited(self_report.case_id, timedelta(minutes=30))
        fresh = waited(other.case_id, timedelta(minutes=10))
        late = Case.objects.get(pk=self_report.case_id)
        assert fresh.priority > late.priority
        assert case_claim_next(user=reviewer).pk == other.case_id


@pytest.mark.django_db
def test_the_dashboard_marks_breaches_and_writes_slas_in_hours(client, reviewer, submit_report):
    report = submit_report(category="self_generated", involves_child=True)
    waited(report.case_id, timedelta(hours=2))
    queue_counts_compute()
    client.force_login(reviewer)
    page = client.get("/review/").content.decode()
    row = page.split('data-testid="queue-self-reports"')[1].split("</tr>")[0]
    assert "1 past SLA" in row and "<td>1 h</td>" in row
    assert "min</td>" not in page
    assert "furthest past its SLA" in page
