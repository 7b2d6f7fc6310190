"""Index snapshots: one copy of a large bank's index that every process on a machine shares.

Building the index of 10,000,000 PDQ hashes from the database takes tens of seconds and 1.3 GB, and
RQ forks a fresh process per job: rebuilding it per job, or holding a copy per worker, does not
scale. A snapshot is the index of one signal type's entries written once to files under
settings.INDEX_DIR (numpy arrays: entry ids, hashes, bank ids and the multi-index tables) and
memory-mapped by every process, so a new process is ready in well under a second and N workers on a
machine share one copy in the page cache.

What a snapshot holds is fixed by two values recorded on its `IndexSnapshot` row: every entry with
an id up to `high_water` that was not removed before `as_of` (minus SLACK). Any machine can write the
same files again from those two values (a new machine, a wiped cache directory), under a file lock
so one process per machine does it. What changed since is read at query time as a small delta: the
entries with a higher id (indexed in memory, exactly as before) and the ids among the snapshot's
that were removed since (left out of its answers). Thresholds and whether a bank is active are read
from the banks as they are now, per bank, never baked into the files. When the delta grows, a job
takes a new snapshot (`index_snapshot_take`) and every process moves to it on its next refresh.

The high-water mark is exact because of BankWriteGate: every transaction that adds or removes
entries holds it shared from its start (`bank_write_gate`), and taking a snapshot holds it
exclusively while it reads the mark, so every id up to the mark belongs to a transaction that has
ended, and no entry can later appear with an id below it.
"""

import fcntl
import json
import logging
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from lib.locks import session_lock
from moderation.banks import index as bank_index
from moderation.banks.frame_index import FrameIndex, FramePart, bank_video_params, read_frames
from moderation.banks.index import SignalIndex, _MultiIndex, _plan, _within, to_words
from moderation.banks.models import (
    DEFAULT_THRESHOLDS,
    HEX_LENGTH,
    BankEntry,
    BankEntryFrame,
    HashBank,
    IndexSnapshot,
)

logger = logging.getLogger(__name__)

# Removals stamped up to this long before a snapshot's as_of time are still checked at query time,
# so clocks a little apart on different machines never let a removed entry match.
SLACK = timedelta(minutes=5)
# Entries read from the database per batch while writing a snapshot.
READ_BATCH = 100_000
# Snapshot rows (and local files) kept per signal type: the newest, and the one before it for
# processes still moving over.
KEEP = 2
FOLD_REQUESTED_KEY = "vigil:index-snapshot-requested:{}"


def bank_write_gate() -> None:
    """Call first in every transaction that adds or removes bank entries (see the module doc)."""
    if connection.vendor != "postgresql":
        return  # SQLite runs one writing transaction at a time anyway
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO moderation_bankwritegate (id) VALUES (1) ON CONFLICT DO NOTHING"
        )
        cursor.execute("SELECT id FROM moderation_bankwritegate WHERE id = 1 FOR SHARE")


def _mark(signal_type: str) -> tuple[int, object]:
    """The high-water mark and as-of time of a new snapshot, read with no writer in flight."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO moderation_bankwritegate (id) VALUES (1) ON CONFLICT DO NOTHING"
                )
                cursor.execute("SELECT id FROM moderation_bankwritegate WHERE id = 1 FOR UPDATE")
        high = BankEntry.objects.filter(signal_type=signal_type).aggregate(m=Max("pk"))["m"]
        return high or 0, timezone.now()


def planned_threshold(signal_type: str) -> int:
    """The largest threshold any bank holding this signal type has now."""
    banks = HashBank.objects.filter(is_active=True)
    values = [b.threshold(signal_type) for b in banks if signal_type in (b.signal_types or [])]
    return max(values, default=DEFAULT_THRESHOLDS.get(signal_type, 0))


def snapshot_path(snapshot: IndexSnapshot) -> Path:
    return Path(settings.INDEX_DIR) / f"{snapshot.signal_type}-{snapshot.key}"


def _snapshot_rows(snapshot: IndexSnapshot):
    return BankEntry.objects.filter(
        signal_type=snapshot.signal_type, pk__lte=snapshot.high_water
    ).filter(Q(removed_at__isnull=True) | Q(removed_at__gte=snapshot.as_of - SLACK))


def snapshot_files_write(snapshot: IndexSnapshot) -> Path:
    """Write the snapshot's files on this machine unless they are there already; one process per
    machine writes them (a file lock), the others wait and use them."""
    path = snapshot_path(snapshot)
    if (path / "meta.json").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / "meta.json").exists():
            return path
        _write(snapshot, path)
    return path


def read_entries(entries, signal_type: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(entry ids, hashes as words, bank ids) of a queryset of entries of one signal type, by id,
    read in batches into arrays: 10,000,000 rows never sit in Python lists at once."""
    n = entries.count()
    width = HEX_LENGTH[signal_type] // 16
    entry_ids = np.empty(n, np.int64)
    words = np.empty((n, width), np.uint64)
    bank_ids = np.empty(n, np.int32)
    filled = 0
    batch: list[tuple[int, str, int]] = []
    rows = entries.order_by("pk").values_list("pk", "value", "bank_id").iterator(READ_BATCH)
    for row in rows:
        batch.append(row)
        if len(batch) == READ_BATCH:
            filled = _fill(batch, filled, entry_ids, words, bank_ids, signal_type)
            batch = []
    filled = _fill(batch, filled, entry_ids, words, bank_ids, signal_type)
    # Fewer if rows went while reading (a purge; live entries are only ever added at higher ids).
    return entry_ids[:filled], words[:filled], bank_ids[:filled]


def _fill(batch, filled, entry_ids, words, bank_ids, signal_type) -> int:
    if not batch:
        return filled
    end = min(filled + len(batch), len(entry_ids))
    batch = batch[: end - filled]
    ids, values, banks = zip(*batch, strict=True)
    entry_ids[filled:end] = ids
    words[filled:end] = to_words(list(values), signal_type)
    bank_ids[filled:end] = banks
    return end


def _write(snapshot: IndexSnapshot, path: Path) -> None:
    if snapshot.signal_type == "vpdq":
        # The frames of the vPDQ entries up to the mark (moderation/banks/frame_index.py).
        arrays = read_frames(BankEntryFrame.objects.filter(entry__in=_snapshot_rows(snapshot)))
    else:
        entry_ids, words, bank_ids = read_entries(_snapshot_rows(snapshot), snapshot.signal_type)
        arrays = {"entry_ids": entry_ids, "words": words, "bank_ids": bank_ids}
    files_write(
        path,
        arrays=arrays,
        tmax=snapshot.planned_threshold,
        high_water=snapshot.high_water,
        signal_type=snapshot.signal_type,
    )


def files_write(path: Path, *, arrays: dict, tmax: int, high_water: int, signal_type: str):
    """Write an index's arrays (one row per entry, or per frame for vPDQ; "words" the hashes)
    and its multi-index tables, when it is large enough for them, as the files of a snapshot at
    `path`, which appears whole or not at all."""
    words = arrays["words"]
    filled = len(words)
    names = list(arrays)
    arrays = dict(arrays)
    plan = (
        _plan(words.shape[1] * 64, tmax, filled)
        if filled >= bank_index.MULTI_INDEX_MIN_ENTRIES
        else None
    )
    if plan is not None:
        arrays.update(_MultiIndex(words, tmax, plan[0]).arrays())
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        meta = {
            "signal_type": signal_type,
            "arrays": names,
            "entries": int(filled),
            "high_water": high_water,
            "tmax": tmax,
            "plan": plan[0] if plan is not None else None,
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.replace(tmp, path)  # the directory appears whole, or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def files_map(path: Path) -> tuple[dict, dict[str, np.ndarray], _MultiIndex | None]:
    """A snapshot's files memory-mapped: (meta, arrays as written: entry_ids, words, bank_ids, or
    a frame index's; multi-index or None). Nothing is read until it is used: pages come in,
    shared, as queries touch them."""
    meta = json.loads((path / "meta.json").read_text())

    def load(name):
        return np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)

    arrays = {name: load(name) for name in meta.get("arrays", ("entry_ids", "words", "bank_ids"))}
    multi = None
    if meta["plan"] is not None:
        tables = {name: load(name) for name in _MultiIndex.ARRAYS}
        plan = [tuple(p) for p in meta["plan"]]
        multi = _MultiIndex.from_arrays(arrays["words"], meta["tmax"], plan, tables)
    return meta, arrays, multi


@contextmanager
def _one_taker(signal_type: str):
    """One process at a time takes a signal type's snapshot (across machines on PostgreSQL);
    the others wait for it, then find it taken."""
    if connection.vendor == "postgresql":
        with session_lock(f"vigil-index-snapshot:{signal_type}"):
            yield
        return
    directory = Path(settings.INDEX_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".take-{signal_type}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _unchanged_since(snapshot: IndexSnapshot) -> bool:
    """Whether nothing was added or removed since the snapshot (no delta to fold). Removals
    stamped by a clock a little behind are still left out at query time (SLACK)."""
    entries = BankEntry.objects.filter(signal_type=snapshot.signal_type)
    return (
        not entries.filter(pk__gt=snapshot.high_water).exists()
        and not entries.filter(removed_at__gte=snapshot.as_of).exists()
    )


def index_snapshot_take(*, signal_type: str) -> IndexSnapshot:
    """Take a new snapshot of the signal type's entries: mark it, write its files here, record
    it (every process moves to it on its next refresh), and drop the old ones. Whoever asks while
    another process is taking one waits for it, and gets it if nothing changed since; so an
    import's snapshot job and the workers that need the snapshot at once take it once."""
    # Asked again from here on means asked for what this one may not hold: a request made while
    # the entries are read below must lead to another snapshot, so the flag goes first.
    cache.delete(FOLD_REQUESTED_KEY.format(signal_type))
    with _one_taker(signal_type):
        latest = latest_snapshot(signal_type)
        if latest is not None and _unchanged_since(latest):
            return latest
        high_water, as_of = _mark(signal_type)
        snapshot = IndexSnapshot(
            signal_type=signal_type,
            key=uuid.uuid4().hex,
            high_water=high_water,
            as_of=as_of,
            entries=0,
            planned_threshold=planned_threshold(signal_type),
        )
        path = snapshot_files_write(snapshot)
        snapshot.entries = json.loads((path / "meta.json").read_text())["entries"]
        snapshot.save()
    for old in IndexSnapshot.objects.filter(signal_type=signal_type).order_by("-pk")[KEEP:]:
        # Processes that still map an old snapshot keep reading it: an unlinked file lives on
        # until its last mapping goes.
        shutil.rmtree(snapshot_path(old), ignore_errors=True)
        old.delete()
    return snapshot


def latest_snapshot(signal_type: str) -> IndexSnapshot | None:
    return IndexSnapshot.objects.filter(signal_type=signal_type).order_by("-pk").first()


class RowThresholds:
    """Each snapshot row's threshold, from its bank's as it is now (-1: bank inactive or gone),
    looked up for the rows asked for rather than held for all of them."""

    def __init__(self, bank_ids: np.ndarray, lut: np.ndarray):
        self.bank_ids, self.lut = bank_ids, lut
        self._max = int(lut.max()) if len(lut) else -1

    def __getitem__(self, rows):
        return self.lut[self.bank_ids[rows]]

    def max(self) -> int:
        return self._max


def bank_thresholds(signal_type: str) -> np.ndarray:
    """A lookup table from bank id to its threshold for the signal type now (-1: never matches)."""
    banks = list(HashBank.objects.all())
    lut = np.full(max((b.pk for b in banks), default=0) + 1, -1, np.int16)
    for bank in banks:
        if bank.is_active:
            lut[bank.pk] = bank.threshold(signal_type)
    return lut


@dataclass
class LayeredIndex:
    """A snapshot (memory-mapped) with the changes since on top: same answers as an index built
    from the live entries now, which the tests check against brute force."""

    snapshot: IndexSnapshot
    entry_ids: np.ndarray
    words: np.ndarray
    thresholds: RowThresholds
    multi_index: _MultiIndex | None
    removed: np.ndarray  # sorted ids of snapshot entries removed since
    delta: SignalIndex

    @property
    def delta_size(self) -> int:
        return len(self.delta.entry_ids) + len(self.removed)

    def __len__(self) -> int:
        return len(self.entry_ids)

    def query(self, hex_value: str, signal_type: str) -> list[tuple[int, int]]:
        raw = bytes.fromhex(hex_value)
        found = []
        if len(self.entry_ids) and self.thresholds.max() >= 0:
            hits = self.multi_index.search(raw, self.thresholds) if self.multi_index else None
            if hits is None:
                hits = _within(self.words, self.thresholds, self.thresholds.max(), raw, None)
            rows, distances = hits
            ids = self.entry_ids[rows]
            if len(self.removed) and len(ids):
                keep = ~np.isin(ids, self.removed, assume_unique=False)
                ids, distances = ids[keep], distances[keep]
            found = list(zip(ids.tolist(), distances.tolist(), strict=True))
        return found + self.delta.query(hex_value, signal_type)

    def brute_force(self, hex_value: str, signal_type: str) -> list[tuple[int, int]]:
        """What query() must return, comparing with every entry (tests and benchmarks)."""
        q = to_words([hex_value], signal_type)[0]
        distances = np.bitwise_count(np.asarray(self.words) ^ q).sum(axis=1, dtype=np.int16)
        hits = np.nonzero(distances <= self.thresholds[slice(None)])[0]
        found = [
            (int(self.entry_ids[i]), int(distances[i]))
            for i in hits
            if not np.isin(self.entry_ids[i], self.removed)
        ]
        return found + self.delta.brute_force(hex_value, signal_type)


def frame_snapshot_load(snapshot: IndexSnapshot, *, build_delta) -> FrameIndex:
    """The vPDQ frame index: the snapshot's frames memory-mapped (less the entries removed
    since), with the entries added since as a part built by `build_delta(after_id)`."""
    path = snapshot_files_write(snapshot)
    _, arrays, multi = files_map(path)
    snapshot_part = FramePart(arrays, multi, _removed_since(snapshot))
    return FrameIndex(
        [snapshot_part, build_delta(snapshot.high_water)], bank_video_params(), snapshot
    )


def _removed_since(snapshot: IndexSnapshot) -> np.ndarray:
    return np.array(
        sorted(
            BankEntry.objects.filter(
                signal_type=snapshot.signal_type,
                pk__lte=snapshot.high_water,
                removed_at__gte=snapshot.as_of - SLACK,
            ).values_list("pk", flat=True)
        ),
        np.int64,
    )


def snapshot_load(snapshot: IndexSnapshot, *, build_delta) -> LayeredIndex:
    """The snapshot's files (written here first if this machine has none), memory-mapped, with the
    changes since. `build_delta(signal_type, after_id)` indexes the live entries above the mark
    (moderation/banks/matching.py's own builder, so small indexes and the delta are the same)."""
    path = snapshot_files_write(snapshot)
    _, arrays, multi = files_map(path)
    signal_type = snapshot.signal_type
    removed = _removed_since(snapshot)
    return LayeredIndex(
        snapshot=snapshot,
        entry_ids=arrays["entry_ids"],
        words=arrays["words"],
        thresholds=RowThresholds(arrays["bank_ids"], bank_thresholds(signal_type)),
        multi_index=multi,
        removed=removed,
        delta=build_delta(signal_type, snapshot.high_water),
    )


def fold_due(index: LayeredIndex | FrameIndex) -> bool:
    """Whether the changes since the snapshot are worth a new one."""
    return index.delta_size > max(settings.INDEX_SNAPSHOT_FOLD_AT, len(index) // 50)


def request_snapshot(signal_type: str, *, enqueue_job) -> bool:
    """Ask (once per few minutes, whoever notices first) for a new snapshot to be taken in the
    background. `enqueue_job(signal_type)` queues the job."""
    if not cache.add(FOLD_REQUESTED_KEY.format(signal_type), 1, timeout=600):
        return False
    enqueue_job(signal_type)
    return True
