"""A real rqworker killed in the middle of hashing a flagged image that matches a large bank's
snapshot: nothing is half-written, and the job queued again by the relay's sweep records the
hashes, the match and the bank's actions exactly once. With Vigil's worker the hashing job runs in
the worker process itself; with VigilForkingWorker, in a work horse (killed with it)."""

from datetime import timedelta

import pytest

from moderation.audit.models import AuditEvent
from moderation.banks.models import HashBank, Match
from moderation.banks.services import bank_import
from moderation.banks.snapshot import index_snapshot_take
from moderation.enforcement.models import EnforcementAction
from reports.hashing import hash_bytes
from reports.media import inspect_image
from reports.services import media_requeue_unhashed
from tests.moderation.signals import known_image, resized_copy
from tests.rqworker import kill_worker_mid_hash, needs_real_worker, run_burst_worker


@needs_real_worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "worker_class", ["config.worker.VigilWorker", "config.worker.VigilForkingWorker"]
)
def test_a_worker_killed_mid_hash_leaves_it_to_a_retry_that_acts_once(
    submit_report, private_media, tmp_path, worker_class
):
    bank = HashBank.objects.create(
        name="Known", slug="known", signal_types=["pdq"], policy=HashBank.Policy.ACT_AND_ESCALATE
    )
    bank_import(bank=bank, text=f"pdq {hash_bytes(known_image())['pdq']}")
    index_snapshot_take(signal_type="pdq")
    report = submit_report(
        images=[inspect_image(resized_copy(known_image()), filename="a.jpg")],
        platform_id="post-1",
        owner_id="acct-1",
    )
    media = report.media.get()
    kill_worker_mid_hash(worker_class, private_media=private_media, flag=tmp_path / "started")

    media.refresh_from_db()
    assert media.hashed_at is None and not Match.objects.exists()
    assert media_requeue_unhashed(older_than=timedelta(0)) == 1
    run_burst_worker(PRIVATE_MEDIA_ROOT=str(private_media))
    media.refresh_from_db()
    assert media.hashed_at is not None
    assert Match.objects.filter(media=media).count() == 1
    assert AuditEvent.objects.filter(verb="media.hashed", object_id=str(media.pk)).count() == 1
    assert set(EnforcementAction.objects.values_list("kind", "target")) == {
        ("remove_content", "post-1"),
        ("suspend_account", "acct-1"),
    }
