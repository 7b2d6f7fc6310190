"""The vPDQ frame index as an index snapshot: written once, memory-mapped, with the entries
added and removed since on top, and each bank's settings as they are now: exactly the answers of
a frame index built from the live entries now, and of the reference comparison."""

import random

import pytest

from moderation.banks import index as bank_index
from moderation.banks.frame_index import build_frame_index
from moderation.banks.matching import current_index, forget_indexes
from moderation.banks.models import BankEntry, HashBank, IndexSnapshot
from moderation.banks.services import bank_entry_remove, bank_import
from moderation.banks.snapshot import index_snapshot_take, snapshot_path
from moderation.banks.video_matching import match_video
from reports.vpdq import FrameHash, compare, is_match, to_signal


def random_video(rng, n=30) -> list[FrameHash]:
    return [
        FrameHash(i, float(i), rng.choice([20, 60, 80, 100]), f"{rng.getrandbits(256):064x}")
        for i in range(n)
    ]


def reencode(rng, video, bits=20) -> list[FrameHash]:
    out = []
    for f in video:
        value = int(f.pdq, 16)
        for b in rng.sample(range(256), rng.randint(0, bits)):
            value ^= 1 << b
        out.append(FrameHash(f.frame, f.timestamp, f.quality, f"{value:064x}"))
    return out


def import_videos(bank, videos):
    bank_import(bank=bank, text="\n".join(f"vpdq {to_signal(v)}" for v in videos))


def answers(index, query):
    return {
        h.entry_id: (h.query_percent, h.compared_percent)
        for h in match_video(query, index, interval=1.0)
    }


def brute_force(query):
    found = {}
    for entry in BankEntry.objects.filter(
        signal_type="vpdq", removed_at__isnull=True, bank__is_active=True
    ).select_related("bank"):
        frames = [
            FrameHash(f.position, f.timestamp, f.quality, f.pdq)
            for f in entry.frames.order_by("position")
        ]
        bank = entry.bank
        percents = compare(
            query, frames, distance=bank.threshold("vpdq"), quality=bank.vpdq_quality
        )
        if is_match(
            percents,
            query_percent=bank.vpdq_query_percent,
            compared_percent=bank.vpdq_compared_percent,
        ):
            found[entry.pk] = (round(percents[0], 2), round(percents[1], 2))
    return found


@pytest.fixture
def small(settings, monkeypatch):
    # A few thousand frames take the path 6,000,000 take: a snapshot with multi-index tables.
    settings.INDEX_SNAPSHOT_MIN_ENTRIES = 500
    monkeypatch.setattr(bank_index, "MULTI_INDEX_MIN_ENTRIES", 500)
    monkeypatch.setattr(bank_index, "COST_BRUTE_WORD", 1.0)
    forget_indexes()
    yield
    forget_indexes()


@pytest.mark.django_db
class TestFrameSnapshot:
    def test_the_snapshot_with_the_changes_since_answers_as_the_live_entries(self, small):
        rng = random.Random(3)
        a = HashBank.objects.create(name="a", slug="a", signal_types=["vpdq"])
        b = HashBank.objects.create(
            name="b", slug="b", signal_types=["vpdq"], vpdq_compared_percent=50
        )
        first = [random_video(rng) for _ in range(60)]
        import_videos(a, first[:30])
        import_videos(b, first[30:])
        snapshot = index_snapshot_take(signal_type="vpdq")
        assert snapshot.entries > 500 and (snapshot_path(snapshot) / "meta.json").exists()
        # Changes since: entries added, one removed, a bank's settings changed.
        later = [random_video(rng) for _ in range(10)]
        import_videos(a, later)
        bank_entry_remove(entry=BankEntry.objects.filter(bank=a).order_by("pk").first())
        HashBank.objects.filter(pk=b.pk).update(thresholds={"vpdq": 24}, vpdq_quality=70)
        forget_indexes()
        index = current_index("vpdq")
        assert index.snapshot == snapshot and index.parts[0].multi_index is not None
        assert len(index.parts[0].removed) == 1 and len(index.parts[1]) > 0
        fresh = build_frame_index()
        for source in rng.sample(first + later, 25):
            query = reencode(rng, source)
            expected = brute_force(query)
            assert answers(index, query) == expected == answers(fresh, query)
        assert any(brute_force(reencode(rng, v, bits=5)) for v in later)


@pytest.mark.django_db(transaction=True)
class TestFrameSnapshotTaken:
    def test_the_first_process_to_need_a_large_frame_index_takes_its_snapshot(self, small):
        rng = random.Random(4)
        bank = HashBank.objects.create(name="a", slug="a", signal_types=["vpdq"])
        import_videos(bank, [random_video(rng) for _ in range(40)])
        assert not IndexSnapshot.objects.filter(signal_type="vpdq").exists()
        # Past the rows a process builds for itself, the first to need it takes it.
        forget_indexes()
        index = current_index("vpdq")
        assert index.snapshot is not None
        assert IndexSnapshot.objects.get(signal_type="vpdq").entries == len(index)
