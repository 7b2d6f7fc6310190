"""Case.first_action_at: the earliest decision or automated (bank) action, kept by the services
that write them, and filled for existing cases by migration 0030."""

import importlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Min

from accounts.roles import Role
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision
from moderation.enforcement.models import EnforcementAction
from moderation.enforcement.services import case_note_action
from moderation.review.services import case_decide

pytestmark = pytest.mark.django_db


def computed(case: Case):
    """The definition, worked out from the rows themselves."""
    times = [
        Decision.objects.filter(case=case).aggregate(t=Min("created_at"))["t"],
        EnforcementAction.objects.filter(case=case, decision__isnull=True).aggregate(
            t=Min("created_at")
        )["t"],
    ]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def test_a_reviewers_decision_is_the_first_action(dsa_decide):
    decision = dsa_decide()
    case = Case.objects.get(pk=decision.case_id)
    assert case.first_action_at == decision.created_at == computed(case)


def test_a_bank_acting_alone_is_the_first_action_and_a_later_decision_keeps_it(
    dsa_bank_acts, make_user
):
    case = dsa_bank_acts()
    automated = EnforcementAction.objects.filter(case=case, decision__isnull=True)
    assert automated.exists()
    case.refresh_from_db()
    assert case.first_action_at == automated.earliest("created_at").created_at
    if case.status == Case.Status.OPEN:
        reviewer = make_user("later-reviewer", Role.REVIEWER)
        claimed = case_claim_next(user=reviewer)
        case_decide(case_id=claimed.pk, user=reviewer, action="no_violation", policy="spam")
    case.refresh_from_db()
    assert case.first_action_at == computed(case)


def test_sending_a_case_to_senior_review_is_its_first_action(dsa_decide, make_user):
    from moderation.cases.models import Queue

    Queue.objects.create(slug="senior", name="Senior", senior_only=True, order=99)
    first = dsa_decide(action="senior_review", notes="needs a senior eye")
    case = Case.objects.get(pk=first.case_id)
    assert case.status == Case.Status.OPEN
    senior = make_user("senior-one", Role.SENIOR_REVIEWER)
    claimed = case_claim_next(user=senior)
    assert claimed.pk == case.pk
    case_decide(case_id=case.pk, user=senior, action="no_violation", policy="harassment")
    case.refresh_from_db()
    assert case.first_action_at == first.created_at == computed(case)


def test_noting_an_action_never_moves_the_first_one_later(dsa_decide):
    case = Case.objects.get(pk=dsa_decide().case_id)
    first = case.first_action_at
    case_note_action(case=case, at=first + timedelta(hours=1))
    case.refresh_from_db()
    assert case.first_action_at == first
    stale = Case.objects.get(pk=case.pk)
    stale.first_action_at = None  # a copy read before the first action was noted
    case_note_action(case=stale, at=first + timedelta(hours=2))
    case.refresh_from_db()
    assert case.first_action_at == first
    case_note_action(case=case, at=first - timedelta(minutes=5))
    case.refresh_from_db()
    assert case.first_action_at == first - timedelta(minutes=5)


def automated(case, at):
    """An automated (bank) action on `case` at `at`, as a row (the backfill reads rows)."""
    EnforcementAction.objects.create(
        case=case, kind="remove_content", target="t", reason="bank", created_at=at
    )


def test_the_migration_fills_existing_cases_as_the_services_do(
    dsa_decide, dsa_bank_acts, submit_report
):
    decided = [Case.objects.get(pk=dsa_decide().case_id) for _ in range(3)]
    # A bank action before the decision wins; one after it does not.
    automated(decided[1], decided[1].first_action_at - timedelta(hours=2))
    automated(decided[2], decided[2].first_action_at + timedelta(hours=2))
    bank_only = dsa_bank_acts()
    cases = [*decided, bank_only]
    untouched = submit_report(category="spam", platform_id="never-acted-on").case
    expected = {c.pk: computed(c) for c in cases}
    assert expected[decided[1].pk] < decided[1].first_action_at
    assert expected[decided[2].pk] == decided[2].first_action_at
    assert computed(untouched) is None
    Case.objects.update(first_action_at=None)
    migration = importlib.import_module("moderation.migrations.0030_case_first_action")
    with connection.cursor() as cursor:
        for sql in migration.BACKFILL:
            cursor.execute(sql)
    for case in cases:
        case.refresh_from_db()
        assert case.first_action_at == expected[case.pk]
    untouched.refresh_from_db()
    assert untouched.first_action_at is None


def test_fill_first_action_fills_what_older_code_left_out(dsa_decide, dsa_bank_acts, capsys):
    # Decisions written by the previous release while 0030 ran: no first_action_at.
    cases = [Case.objects.get(pk=dsa_decide().case_id), dsa_bank_acts()]
    expected = {c.pk: computed(c) for c in cases}
    Case.objects.filter(pk__in=expected).update(first_action_at=None)
    call_command("fill_first_action")
    assert "filled the first action of 2 case(s)" in capsys.readouterr().out
    for case in cases:
        case.refresh_from_db()
        assert case.first_action_at == expected[case.pk]
    call_command("fill_first_action")
    assert "of 0 case(s)" in capsys.readouterr().out
