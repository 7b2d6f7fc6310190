"""A real rqworker (Vigil's worker class) matches through the index snapshot and its delta."""

import numpy as np
import pytest

from moderation.banks.models import HashBank, IndexSnapshot, Match
from moderation.banks.services import bank_import
from moderation.banks.snapshot import index_snapshot_take
from reports.hashing import hash_bytes
from reports.media import inspect_image
from tests.moderation.signals import known_image, resized_copy
from tests.rqworker import needs_real_worker, run_burst_worker
from tests.testdata import PDQ


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_matches_through_the_snapshot_and_the_entries_added_since(
    submit_report, private_media, tmp_path
):
    rng = np.random.default_rng(3)
    noise = [bytes(r).hex() for r in rng.integers(0, 256, (3000, 32), dtype=np.uint8)]
    bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq"])
    in_snapshot = hash_bytes(known_image())["pdq"]
    bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in [*noise, in_snapshot]))
    index_snapshot_take(signal_type="pdq")
    # Listed after the snapshot: matched through the delta.
    other = (PDQ / "pen-and-coaster.png").read_bytes()
    bank_import(bank=bank, text=f"pdq {hash_bytes(other)['pdq']}")
    snapshot = IndexSnapshot.objects.get()
    assert snapshot.entries == 3001

    first = submit_report(images=[inspect_image(resized_copy(known_image()), filename="a.jpg")])
    second = submit_report(images=[inspect_image(other, filename="b.png")])
    # The worker's machine has no copy of the files yet: it writes them once from the snapshot's
    # row, and its jobs map them.
    worker_index = tmp_path / "worker-index"
    worker = run_burst_worker(
        PRIVATE_MEDIA_ROOT=str(private_media), VIGIL_INDEX_DIR=str(worker_index)
    )
    for report in (first, second):
        assert Match.objects.filter(media=report.media.get()).exists()
    assert (worker_index / f"pdq-{snapshot.key}" / "meta.json").exists()
    assert "could not load index snapshot" not in worker.stderr
