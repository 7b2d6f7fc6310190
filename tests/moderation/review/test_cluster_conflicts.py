"""Near-duplicates decided differently are shown as a conflict on the case, on the cluster
decision's confirmation and on the supervisors' page; matches show where a confirmed hash came
from."""

import pytest

from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.review.conflicts import case_conflicts, recent_conflicts
from moderation.review.services import case_decide
from tests.moderation.signals import known_image, report_image, resized_copy


@pytest.fixture
def conflicting(submit_report, reviewer, run_jobs):
    """One picture decided as no violation in one case, and as CSAM in another."""
    first = report_image(submit_report, known_image(), category="harassment", platform_id="p-1")
    case_claim_next(user=reviewer)
    case_decide(case_id=first.case_id, user=reviewer, action="no_violation", policy="harassment")
    second = report_image(
        submit_report, resized_copy(known_image()), category="csam", platform_id="p-2"
    )
    assert case_claim_next(user=reviewer).pk == second.case_id
    with run_jobs():
        case_decide(
            case_id=second.case_id,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="malicious",
            classification="A1",
        )
    return Case.objects.get(pk=first.case_id), Case.objects.get(pk=second.case_id)


@pytest.mark.django_db
class TestConflicts:
    def test_it_finds_the_cluster_and_who_said_what(self, conflicting):
        first, second = conflicting
        (conflict,) = case_conflicts(first)
        assert conflict.summary == [
            ("CSAM (classified A1–B2)", [second.pk]),
            ("no violation", [first.pk]),
        ]
        assert [c.cluster_id for c in recent_conflicts()] == [conflict.cluster_id]

    def test_agreeing_near_duplicates_are_no_conflict(self, submit_report, reviewer):
        for n in (1, 2):
            report = report_image(submit_report, known_image(), platform_id=f"q-{n}")
            assert case_claim_next(user=reviewer).pk == report.case_id
            case_decide(case_id=report.case_id, user=reviewer, action="remove", policy="harassment")
        assert recent_conflicts() == []

    def test_the_case_page_shows_it(self, client, conflicting, reviewer):
        first, second = conflicting
        client.force_login(reviewer)
        page = client.get(f"/cases/{first.pk}/").content.decode()
        assert 'data-testid="cluster-conflict"' in page
        assert "Near-duplicates decided differently" in page
        assert f'href="/cases/{second.pk}/"' in page

    def test_the_supervisors_page_lists_it(self, client, conflicting, supervisor):
        first, second = conflicting
        client.force_login(supervisor)
        page = client.get("/supervise/rereviews/").content.decode()
        section = page.split('data-testid="cluster-conflicts"')[1]
        assert "no violation" in section and "CSAM" in section
        assert f'href="/cases/{first.pk}/"' in section

    def test_the_cluster_confirmation_shows_it(self, client, conflicting, reviewer, submit_report):
        third = report_image(submit_report, known_image(), category="spam", platform_id="p-3")
        fourth = report_image(submit_report, known_image(), category="spam", platform_id="p-4")
        client.force_login(reviewer)
        # A senior reviewer may decide signalled cases as a cluster; a reviewer is shown the
        # conflict on the confirmation step before anything is recorded.
        assert case_claim_next(user=reviewer).pk in (third.case_id, fourth.case_id)
        held = Case.objects.get(assignee=reviewer, status="open")
        r = client.post(
            f"/cases/{held.pk}/decide-cluster/",
            {
                "action": "escalate",
                "policy": "child-safety/sexual-exploitation",
                "intent": "malicious",
                "classification": "A1",
            },
        )
        assert r.status_code == 200
        assert 'data-testid="cluster-conflict"' in r.content.decode()


@pytest.mark.django_db
def test_a_match_to_the_confirmed_bank_says_where_it_came_from(
    client, submit_report, reviewer, run_jobs
):
    from moderation.banks.matching import forget_indexes

    first = report_image(submit_report, known_image(), category="csam", platform_id="c-1")
    case_claim_next(user=reviewer)
    with run_jobs():
        case_decide(
            case_id=first.case_id,
            user=reviewer,
            action="escalate",
            policy="child-safety/sexual-exploitation",
            intent="malicious",
            classification="B1",
        )
    forget_indexes()
    copy = report_image(submit_report, resized_copy(known_image()), platform_id="c-2")
    client.force_login(reviewer)
    page = client.get(f"/cases/{copy.case_id}/").content.decode()
    assert 'data-testid="provenance"' in page
    assert "Confirmed as B1 by rita" in page and f'href="/cases/{first.case_id}/"' in page
