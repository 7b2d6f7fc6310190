"""Case.first_action_at: the earliest decision or automated (bank) action, kept by the services
that write them, and filled for existing cases by migration 0030."""

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Min
from django.utils import timezone

from accounts.roles import Role
from moderation.actions import case_note_action
from moderation.enforcement import EnforcementAction
from moderation.models import Case, Decision
from moderation.services import case_claim_next, case_decide

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
    from moderation.models import Queue

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


def test_the_migration_fills_existing_cases_as_the_services_do(dsa_decide, dsa_bank_acts):
    cases = [Case.objects.get(pk=dsa_decide().case_id), dsa_bank_acts(), dsa_bank_acts()]
    # A bank action that came before the case's decision wins; a decision with no action too.
    EnforcementAction.objects.filter(case=cases[2], decision__isnull=True).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    undecided = Case.objects.exclude(pk__in=[c.pk for c in cases]).filter(
        first_action_at__isnull=True
    )
    expected = {c.pk: computed(c) for c in cases}
    assert all(expected.values())
    Case.objects.update(first_action_at=None)
    migration = importlib.import_module("moderation.migrations.0030_case_first_action")
    with connection.cursor() as cursor:
        for sql in migration.BACKFILL:
            cursor.execute(sql)
    for case in cases:
        case.refresh_from_db()
        assert case.first_action_at == expected[case.pk]
    assert not Case.objects.filter(pk__in=undecided, first_action_at__isnull=False).exists()
