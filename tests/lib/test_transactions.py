"""Who owns a transaction is checked, not just written in a docstring (lib/transactions.py)."""

import pytest
from django.db import transaction

from lib.transactions import TransactionRequired, in_transaction
from moderation.cases.rollup import case_refresh_priority
from moderation.cases.services import case_claim_next
from moderation.enforcement.services import action_request


@in_transaction
def helper():
    return "written"


@pytest.mark.django_db(transaction=True)
class TestInTransaction:
    def test_it_refuses_a_call_outside_a_transaction(self):
        with pytest.raises(TransactionRequired, match="tests.lib.test_transactions.helper"):
            helper()

    def test_it_runs_inside_the_callers_transaction(self):
        with transaction.atomic():
            assert helper() == "written"

    def test_the_helpers_that_write_part_of_a_change_are_marked(self):
        for func in (action_request, case_refresh_priority):
            assert func.vigil_in_transaction


@pytest.mark.django_db(transaction=True)
def test_a_public_service_refuses_to_run_inside_another_transaction(django_user_model):
    # Its commit (and the jobs that follow it) must not silently depend on the caller's.
    user = django_user_model.objects.create(username="r")
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        case_claim_next(user=user)
