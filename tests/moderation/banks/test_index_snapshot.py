"""Index snapshots: written once, memory-mapped, with the entries added and removed since as a
delta on top, and exactly the answers of an index built from the live entries now."""

import numpy as np
import pytest
from django.db import transaction

from moderation.banks import index as bank_index
from moderation.banks.matching import build_index, current_index, find_matches, forget_indexes
from moderation.banks.models import BankEntry, HashBank, IndexSnapshot
from moderation.banks.services import bank_entry_remove, bank_import
from moderation.banks.snapshot import (
    LayeredIndex,
    index_snapshot_take,
    snapshot_load,
    snapshot_path,
)


def random_pdq(rng, n: int) -> list[str]:
    return [bytes(row).hex() for row in rng.integers(0, 256, (n, 32), dtype=np.uint8)]


def near(rng, value: str, bits: int) -> str:
    """`value` with `bits` random bits flipped."""
    number = int(value, 16)
    for bit in rng.choice(256, bits, replace=False):
        number ^= 1 << int(bit)
    return f"{number:064x}"


def load(snapshot) -> LayeredIndex:
    return snapshot_load(snapshot, build_delta=lambda t, after: build_index(t, above=after))


def as_set(hits) -> set[tuple[int, int]]:
    return {(int(e), int(d)) for e, d in hits}


@pytest.fixture
def small_multi_index(monkeypatch):
    # Snapshots of a few thousand entries still get multi-index tables, as 10M would.
    monkeypatch.setattr(bank_index, "MULTI_INDEX_MIN_ENTRIES", 500)
    monkeypatch.setattr(bank_index, "COST_BRUTE_WORD", 1.0)  # so the plan picks tables


@pytest.fixture
def bank_of(db):
    def make(values, slug="known", thresholds=None):
        bank = HashBank.objects.create(
            name=slug, slug=slug, signal_types=["pdq"], thresholds=thresholds or {"pdq": 31}
        )
        bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in values))
        return bank

    return make


@pytest.mark.django_db
class TestExactness:
    def test_snapshot_plus_delta_answers_as_the_live_entries_do(self, bank_of, small_multi_index):
        rng = np.random.default_rng(11)
        values = random_pdq(rng, 3000)
        bank = bank_of(values[:2500])
        other = bank_of(values[2500:2800], slug="other", thresholds={"pdq": 20})
        snapshot = index_snapshot_take(signal_type="pdq")
        assert snapshot.entries == 2800
        assert snapshot.planned_threshold == 31

        # Since the snapshot: entries added (the delta), some removed on both sides of the mark,
        # and a bank's threshold lowered.
        bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in values[2800:]))
        gone = list(BankEntry.objects.filter(bank=bank).order_by("?")[:150])
        for entry in gone:
            bank_entry_remove(entry=entry)
        HashBank.objects.filter(pk=other.pk).update(thresholds={"pdq": 12})

        layered = load(snapshot)
        assert layered.multi_index is not None and len(layered.delta.entry_ids) > 0
        live = build_index("pdq")
        probes = [
            near(rng, values[i], int(rng.integers(0, 40))) for i in rng.integers(0, 3000, 400)
        ]
        probes += [v.value for v in gone[:20]] + random_pdq(rng, 20)
        for probe in probes:
            expected = as_set(live.query(probe, "pdq"))
            assert as_set(layered.query(probe, "pdq")) == expected
            assert as_set(layered.brute_force(probe, "pdq")) == expected
        removed_ids = {e.pk for e in gone}
        for probe in (e.value for e in gone[:20]):
            assert not {e for e, _ in layered.query(probe, "pdq")} & removed_ids

    def test_a_threshold_above_the_planned_one_is_still_exact(self, bank_of, small_multi_index):
        rng = np.random.default_rng(5)
        values = random_pdq(rng, 1500)
        bank = bank_of(values)
        snapshot = index_snapshot_take(signal_type="pdq")
        HashBank.objects.filter(pk=bank.pk).update(thresholds={"pdq": 45})
        layered = load(snapshot)
        live = build_index("pdq")
        for i in rng.integers(0, 1500, 100):
            probe = near(rng, values[i], int(rng.integers(30, 46)))
            assert as_set(layered.query(probe, "pdq")) == as_set(live.query(probe, "pdq"))

    def test_an_inactive_banks_entries_never_match(self, bank_of, small_multi_index):
        rng = np.random.default_rng(6)
        values = random_pdq(rng, 800)
        bank = bank_of(values)
        snapshot = index_snapshot_take(signal_type="pdq")
        HashBank.objects.filter(pk=bank.pk).update(is_active=False)
        assert load(snapshot).query(values[3], "pdq") == []


@pytest.mark.django_db
class TestSharing:
    def test_the_files_are_memory_mapped(self, bank_of, small_multi_index):
        rng = np.random.default_rng(7)
        bank_of(random_pdq(rng, 800))
        layered = load(index_snapshot_take(signal_type="pdq"))
        assert isinstance(layered.words, np.memmap)
        assert isinstance(layered.multi_index.table, np.memmap)

    def test_another_machine_writes_the_same_files_from_the_row(self, bank_of, small_multi_index):
        import shutil

        rng = np.random.default_rng(8)
        values = random_pdq(rng, 900)
        bank = bank_of(values)
        snapshot = index_snapshot_take(signal_type="pdq")
        before = load(snapshot)
        ids, words = np.array(before.entry_ids), np.array(before.words)
        # Removed after the snapshot: the rewritten files still hold it, the delta leaves it out.
        bank_entry_remove(entry=BankEntry.objects.filter(bank=bank).first())
        shutil.rmtree(snapshot_path(snapshot))
        again = load(snapshot)
        assert np.array_equal(np.array(again.entry_ids), ids)
        assert np.array_equal(np.array(again.words), words)
        assert len(again.removed) == 1

    def test_matching_goes_through_the_snapshot_and_its_delta(self, bank_of, small_multi_index):
        rng = np.random.default_rng(9)
        values = random_pdq(rng, 1000)
        bank = bank_of(values[:900])
        index_snapshot_take(signal_type="pdq")
        bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in values[900:]))
        forget_indexes()
        assert isinstance(current_index("pdq"), LayeredIndex)
        added = BankEntry.objects.get(value=values[950])
        hits = find_matches(pdq_variants=[near(rng, values[950], 5)])
        assert [(h.entry_id, h.distance) for h in hits] == [(added.pk, 5)]

    def test_old_snapshots_go_with_their_files(self, bank_of, small_multi_index):
        rng = np.random.default_rng(10)
        bank = bank_of(random_pdq(rng, 600))
        first = index_snapshot_take(signal_type="pdq")
        for _ in range(2):
            bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in random_pdq(rng, 5)))
            index_snapshot_take(signal_type="pdq")
        assert IndexSnapshot.objects.count() == 2
        assert not snapshot_path(first).exists()

    def test_it_is_not_taken_again_when_nothing_changed(self, bank_of, small_multi_index):
        # An import's snapshot job, and every worker that needed the snapshot at once, ask for
        # it: whoever comes after the first finds it taken.
        rng = np.random.default_rng(11)
        bank = bank_of(random_pdq(rng, 600))
        first = index_snapshot_take(signal_type="pdq")
        assert index_snapshot_take(signal_type="pdq") == first
        entry = BankEntry.objects.filter(bank=bank).first()
        bank_entry_remove(entry=entry)
        second = index_snapshot_take(signal_type="pdq")
        assert second != first
        assert entry.pk in load(second).removed


@pytest.mark.django_db
def test_a_large_import_is_folded_into_a_snapshot_once_at_the_end(
    bank_of, small_multi_index, settings, run_jobs
):
    settings.INDEX_SNAPSHOT_FOLD_AT = 1000
    rng = np.random.default_rng(12)
    with run_jobs():
        bank_of(random_pdq(rng, 1200))
    (snapshot,) = IndexSnapshot.objects.all()
    assert snapshot.entries == 1200


@pytest.mark.django_db
def test_a_growing_delta_asks_for_a_new_snapshot(bank_of, small_multi_index, settings, run_jobs):
    rng = np.random.default_rng(13)
    values = random_pdq(rng, 1300)
    bank = bank_of(values[:700])
    index_snapshot_take(signal_type="pdq")
    settings.INDEX_SNAPSHOT_FOLD_AT = 100
    bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in values[700:]))
    forget_indexes()
    with run_jobs(), transaction.atomic():
        current_index("pdq")  # notices the delta, asks once
    latest = IndexSnapshot.objects.order_by("-pk").first()
    assert latest.entries == 1300


@pytest.mark.django_db(transaction=True)  # a worker matches outside any transaction
class TestNeverBuiltInEveryProcess:
    """A bank too large for a snapshot-less index is never built in each worker's memory (186 s and
    1.75 GB per worker at 10M, measured): the first process to need it takes the snapshot."""

    def test_the_first_process_to_need_it_takes_the_snapshot(
        self, bank_of, small_multi_index, settings
    ):
        settings.INDEX_SNAPSHOT_MIN_ENTRIES = 500
        rng = np.random.default_rng(14)
        values = random_pdq(rng, 600)
        bank_of(values)
        assert not IndexSnapshot.objects.exists()
        forget_indexes()
        index = current_index("pdq")
        assert isinstance(index, LayeredIndex)
        assert (index.snapshot.entries, index.delta_size) == (600, 0)
        forget_indexes()  # another process: maps the same snapshot
        assert current_index("pdq").snapshot == index.snapshot
        assert IndexSnapshot.objects.count() == 1
        assert as_set(current_index("pdq").query(values[7], "pdq")) == {
            (BankEntry.objects.get(value=values[7]).pk, 0)
        }

    def test_a_delta_that_large_is_folded_first(self, bank_of, small_multi_index, settings):
        rng = np.random.default_rng(15)
        values = random_pdq(rng, 1200)
        bank = bank_of(values[:600])
        index_snapshot_take(signal_type="pdq")
        settings.INDEX_SNAPSHOT_MIN_ENTRIES = 500
        bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in values[600:]))
        forget_indexes()
        index = current_index("pdq")
        assert (index.snapshot.entries, index.delta_size) == (1200, 0)

    def test_the_imports_own_snapshot_job_is_not_taken_twice(
        self, bank_of, small_multi_index, settings, run_jobs
    ):
        settings.INDEX_SNAPSHOT_FOLD_AT = 1000
        settings.INDEX_SNAPSHOT_MIN_ENTRIES = 1000
        rng = np.random.default_rng(16)
        bank = bank_of(random_pdq(rng, 10))
        # A worker needs the index first (the import's job is still queued), then the job runs.
        with run_jobs():
            bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in random_pdq(rng, 1200)))
            forget_indexes()
            current_index("pdq")
        (snapshot,) = IndexSnapshot.objects.all()
        assert snapshot.entries == 1210

    def test_inside_a_transaction_it_is_asked_for_instead(
        self, bank_of, small_multi_index, settings, run_jobs
    ):
        # Taking it there would hold the bank write gate until the caller's transaction ends.
        settings.INDEX_SNAPSHOT_MIN_ENTRIES = 500
        rng = np.random.default_rng(17)
        bank_of(random_pdq(rng, 600))
        forget_indexes()
        with run_jobs(), transaction.atomic():
            assert not isinstance(current_index("pdq"), LayeredIndex)
            assert not IndexSnapshot.objects.exists()
        (snapshot,) = IndexSnapshot.objects.all()  # taken by the job it asked for
        assert snapshot.entries == 600
