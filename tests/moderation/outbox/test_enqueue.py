import pytest
from django.db import transaction

from moderation.cases.models import Queue
from moderation.outbox.services import enqueue
from tests.moderation.outbox.jobs_fixtures import explode, remember


def general_description():
    return Queue.objects.get(slug="general").description


@pytest.mark.django_db
class TestEnqueue:
    def test_it_runs_the_job_after_commit(self, run_jobs):
        with run_jobs(), transaction.atomic():
            enqueue(remember, "k", "v")
            # Not yet: the transaction has not committed.
            assert general_description() != "k=v"
        assert general_description() == "k=v"

    def test_it_sends_nothing_when_the_transaction_rolls_back(self, run_jobs):
        with run_jobs():
            try:
                with transaction.atomic():
                    enqueue(remember, "k", "v")
                    raise ValueError("roll back")
            except ValueError:
                pass
        assert general_description() != "k=v"

    def test_a_failing_job_does_not_undo_the_committed_write(self, run_jobs, caplog):
        with run_jobs(), transaction.atomic():
            Queue.objects.filter(slug="general").update(description="kept")
            enqueue(explode)
        assert general_description() == "kept"
