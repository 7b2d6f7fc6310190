"""Reporter reliability: counters per reporter fingerprint, kept as cases are decided, counted
once a reporter has a long enough record, shown in the breakdown as a figure only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide
from reports.models import Report, ReporterRecord
from reports.services import reporter_fingerprint


@pytest.fixture
def report_by(submit_report):
    def submit(account: str, **fields):
        return submit_report(
            reporter_kind=Report.ReporterKind.PLATFORM_USER,
            source=Report.Source.API,
            reporter_account_id=account,
            **fields,
        )

    return submit


def decide(reviewer, case_id: int, action: str):
    case = case_claim_next(user=reviewer)
    assert case.pk == case_id
    case_decide(case_id=case.pk, user=reviewer, action=action, policy="harassment")


def record_of(account: str) -> ReporterRecord | None:
    return ReporterRecord.objects.filter(
        fingerprint=reporter_fingerprint(account_id=account)
    ).first()


def parts(case) -> dict:
    return {p["label"]: p["points"] for p in case.priority_breakdown}


@pytest.mark.django_db
class TestReporterReliability:
    def test_a_reporter_who_is_usually_right_raises_their_next_report(
        self, report_by, reviewer, run_jobs
    ):
        for action in ["remove", "remove", "warn", "no_violation", "suspend"]:
            case = report_by("u-7").case
            with run_jobs():
                decide(reviewer, case.pk, action)
        record = record_of("u-7")
        assert (record.decided, record.upheld) == (5, 4)

        case = report_by("u-7").case
        assert parts(case)["reporter usually right (80% upheld)"] == 40
        assert case.priority == 100 + 40
        # The reporter's identity is nowhere in what reviewers see: only the figure.
        text = str(case.priority_breakdown)
        assert "u-7" not in text and record.fingerprint not in text

    def test_the_case_page_shows_the_figure_and_never_the_reporter(
        self, report_by, reviewer, run_jobs, client
    ):
        for _ in range(5):
            case = report_by("u-42", reporter_email="someone@example.org").case
            with run_jobs():
                decide(reviewer, case.pk, "remove")
        case = report_by("u-42").case
        case_claim_next(user=reviewer)
        client.force_login(reviewer)
        page = client.get(f"/cases/{case.pk}/").content.decode()
        assert "reporter usually right (100% upheld)</span><span>+50" in page
        assert "u-42" not in page and "someone@example.org" not in page

    def test_it_needs_five_decided_reports_before_it_counts(self, report_by, reviewer, run_jobs):
        for _ in range(4):
            case = report_by("new").case
            with run_jobs():
                decide(reviewer, case.pk, "remove")
        case = report_by("new").case
        assert not any("reporter" in label for label in parts(case))
        assert case.reporter_reliability is None

    def test_a_reporter_seldom_right_earns_little(self, report_by, reviewer, run_jobs):
        for action in ["no_violation"] * 4 + ["remove"]:
            case = report_by("noisy").case
            with run_jobs():
                decide(reviewer, case.pk, action)
        case = report_by("noisy").case
        assert parts(case)["reporter seldom right (20% upheld)"] == 10

    def test_sending_to_senior_review_is_not_a_finding(self, report_by, reviewer, run_jobs):
        case = report_by("u-1").case
        with run_jobs():
            decide(reviewer, case.pk, "senior_review")
        assert record_of("u-1") is None

    def test_a_reopened_case_does_not_count_the_same_report_twice(
        self, report_by, reviewer, run_jobs
    ):
        case = report_by("u-2", platform_id="p1").case
        with run_jobs():
            decide(reviewer, case.pk, "remove")
        # Someone else reports the item in a new category: the case reopens and is decided again.
        report_by("u-3", platform_id="p1", category="csam", involves_child=True)
        case = Case.objects.get(pk=case.pk)
        assert case.status == "open"
        with run_jobs():
            case_claim_next(user=reviewer)
            case_decide(
                case_id=case.pk,
                user=reviewer,
                action="no_violation",
                policy="harassment",
            )
        assert (record_of("u-2").decided, record_of("u-2").upheld) == (1, 1)
        assert (record_of("u-3").decided, record_of("u-3").upheld) == (1, 0)

    def test_open_cases_are_recomputed_when_their_reporters_record_starts_to_count(
        self, report_by, reviewer, run_jobs
    ):
        # An open case by the reporter waits in the queue while their earlier reports are decided.
        waiting = report_by("u-9", category="spam").case
        earlier = [report_by("u-9").case for _ in range(5)]
        for case in earlier:
            with run_jobs():
                decide(reviewer, case.pk, "remove")
        waiting.refresh_from_db()
        assert waiting.reporter_reliability == 1.0
        assert parts(waiting)["reporter usually right (100% upheld)"] == 50

    def test_intake_queries_do_not_grow_with_the_reporters_history(
        self, report_by, reviewer, run_jobs, monkeypatch
    ):
        # The weights' version check every 2 s would add a query at a random moment.
        monkeypatch.setattr("moderation.cases.weights.REFRESH_SECONDS", 3600.0)

        def queries_for_one_report() -> int:
            with CaptureQueriesContext(connection) as ctx:
                case = report_by("busy").case
            with run_jobs():
                decide(reviewer, case.pk, "remove")
            return len(ctx)

        for _ in range(5):
            case = report_by("busy").case
            with run_jobs():
                decide(reviewer, case.pk, "remove")
        baseline = queries_for_one_report()
        for _ in range(15):
            case = report_by("busy").case
            with run_jobs():
                decide(reviewer, case.pk, "remove")
        assert queries_for_one_report() == baseline


@pytest.mark.django_db
class TestAppeals:
    def test_an_overturned_decision_no_longer_counts_as_upheld(
        self, report_by, make_user, run_jobs
    ):
        from moderation.review.appeals import appeal_open

        original, other = make_user("original"), make_user("other")
        case = report_by("u-5", platform_id="post-7", owner_id="owner-1").case
        with run_jobs():
            decide(original, case.pk, "suspend")
        assert (record_of("u-5").decided, record_of("u-5").upheld) == (1, 1)
        appeal_open(content_id="post-7", statement="A joke.", actor_label="api token t")
        with run_jobs():
            decide(other, case.pk, "no_violation")
        # Still one decided case for this reporter, now not upheld.
        assert (record_of("u-5").decided, record_of("u-5").upheld) == (1, 0)

    def test_an_upheld_appeal_changes_nothing(self, report_by, make_user, run_jobs):
        from moderation.review.appeals import appeal_open

        original, other = make_user("original"), make_user("other")
        case = report_by("u-6", platform_id="post-8", owner_id="owner-1").case
        with run_jobs():
            decide(original, case.pk, "suspend")
        appeal_open(content_id="post-8", statement="No.", actor_label="api token t")
        with run_jobs():
            decide(other, case.pk, "suspend")
        assert (record_of("u-6").decided, record_of("u-6").upheld) == (1, 1)
