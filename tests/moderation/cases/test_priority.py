from datetime import UTC, datetime, timedelta

from moderation.cases.priority import PriorityInputs, compute_priority

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def inputs(**overrides):
    fields = {
        "category": "harassment",
        "involves_child": False,
        "reporters_count": 1,
        "max_flag_score": None,
        "waiting_since": NOW,
    }
    fields.update(overrides)
    return PriorityInputs(**fields)


class TestComputePriority:
    def test_it_sums_labelled_parts_highest_first(self):
        score, breakdown = compute_priority(
            inputs(
                category="csam",
                involves_child=True,
                reporters_count=3,
                waiting_since=NOW - timedelta(hours=5),
            ),
            now=NOW,
        )
        assert breakdown == [
            {"label": "category child sexual exploitation", "points": 400},
            {"label": "involves a child", "points": 200},
            {"label": "waiting 5 h", "points": 25},
            {"label": "3 reporters", "points": 20},
        ]
        assert score == 645

    def test_child_safety_outranks_everything_else(self):
        spam, _ = compute_priority(
            inputs(category="spam", reporters_count=50, waiting_since=NOW - timedelta(days=5)),
            now=NOW,
        )
        grooming, _ = compute_priority(inputs(category="grooming"), now=NOW)
        assert grooming > spam

    def test_waiting_and_report_points_are_capped(self):
        _, breakdown = compute_priority(
            inputs(reporters_count=1000, waiting_since=NOW - timedelta(days=100)), now=NOW
        )
        points = {part["label"].split()[0]: part["points"] for part in breakdown}
        assert points["waiting"] == 120
        assert points["1000"] == 100

    def test_it_counts_the_classifier_score(self):
        score, breakdown = compute_priority(inputs(max_flag_score=0.93), now=NOW)
        assert {"label": "classifier score 0.93", "points": 93} in breakdown
        assert score == 100 + 93


def test_waiting_cases_climb_when_priorities_are_refreshed(db, submit_report):
    import io
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from moderation.cases.models import Case

    case = submit_report(category="spam").case
    before = Case.objects.get(pk=case.pk).priority
    five_hours_ago = timezone.now() - timedelta(hours=5)
    Case.objects.filter(pk=case.pk).update(waiting_since=five_hours_ago, updated_at=five_hours_ago)
    out = io.StringIO()
    call_command("refresh_priorities", stdout=out)
    case.refresh_from_db()
    assert "refreshed 1 case" in out.getvalue()
    assert case.priority == before + 25
    assert {"label": "waiting 5 h", "points": 25} in case.priority_breakdown
    # Fresh cases are left alone.
    call_command("refresh_priorities", stdout=io.StringIO())
    assert Case.objects.get(pk=case.pk).priority == before + 25
