"""The vPDQ frame index: every distinct frame of every live vPDQ entry, in one exact index.

A row is one distinct PDQ of one entry (its first occurrence, with that frame's quality and time,
as python-threatexchange dedupes a video's frames before the quality filter). Each row matches at
its bank's vPDQ distance and only when its quality reaches its bank's filter; both are read from
the banks as they are now, per bank, never baked in: a bank's settings change, and the next query
follows (moderation/banks/video_matching.py does the comparison on top).

At scale the index is an index snapshot like the other perceptual signals' (moderation/banks/
snapshot.py: 100,000 bank videos of 60 frames are 6,000,000 rows, which no worker should build
for itself): its files hold the rows of every vPDQ entry up to the snapshot's high-water mark, and
the entries added since (a higher id) are a small part built here on top; entries removed since
are left out of the snapshot's answers. Below INDEX_SNAPSHOT_MIN_ENTRIES rows it is built in each
process from the database.
"""

from dataclasses import dataclass, field

import numpy as np
from django.db.models import F

from moderation.banks import index as bank_index
from moderation.banks.index import _MultiIndex, _plan, _within, to_words
from moderation.banks.models import DEFAULT_THRESHOLDS, BankEntryFrame, HashBank

READ_BATCH = 100_000
ARRAYS = ("words", "entry", "quality", "time", "bank")


def read_frames(frames) -> dict[str, np.ndarray]:
    """The rows of a queryset of BankEntryFrame: each entry's distinct PDQs, first occurrence
    first, read by entry in batches into arrays (never millions of Python tuples at once)."""
    n = frames.count()
    words = np.empty((n, 4), np.uint64)
    entry = np.empty(n, np.int64)
    quality = np.empty(n, np.int16)
    time = np.empty(n, np.float32)
    bank = np.empty(n, np.int32)
    filled = 0
    current, seen = None, set()
    batch: list[tuple] = []

    def flush():
        nonlocal filled, batch
        if not batch:
            return
        end = min(filled + len(batch), n)
        batch = batch[: end - filled]
        ids, pdqs, qualities, times, banks = zip(*batch, strict=True)
        entry[filled:end] = ids
        words[filled:end] = to_words(list(pdqs), "pdq")
        quality[filled:end] = qualities
        time[filled:end] = times
        bank[filled:end] = banks
        filled, batch = end, []

    rows = (
        frames.order_by("entry_id", "position")
        .values_list("entry_id", "pdq", "quality", "timestamp", F("entry__bank_id"))
        .iterator(READ_BATCH)
    )
    for row in rows:
        if row[0] != current:
            current, seen = row[0], set()
        if row[1] in seen:
            continue
        seen.add(row[1])
        batch.append(row)
        if len(batch) == READ_BATCH:
            flush()
    flush()
    return {
        "words": words[:filled],
        "entry": entry[:filled],
        "quality": quality[:filled],
        "time": time[:filled],
        "bank": bank[:filled],
    }


def vpdq_frames(entries=None, *, above: int | None = None):
    """The frames of the live vPDQ entries of active banks: all, or those of the queryset
    `entries` (an import's), or of entries with an id above `above` (a snapshot's delta)."""
    frames = BankEntryFrame.objects.filter(
        entry__signal_type="vpdq", entry__removed_at__isnull=True, entry__bank__is_active=True
    )
    if entries is not None:
        frames = frames.filter(entry__in=entries)
    if above is not None:
        frames = frames.filter(entry_id__gt=above)
    return frames


@dataclass(frozen=True)
class BankVideoParams:
    distance: int
    quality: int
    query_percent: float
    compared_percent: float


def bank_video_params() -> dict[int, BankVideoParams]:
    return {
        bank.pk: BankVideoParams(
            distance=bank.threshold("vpdq"),
            quality=bank.vpdq_quality,
            query_percent=bank.vpdq_query_percent,
            compared_percent=bank.vpdq_compared_percent,
        )
        for bank in HashBank.objects.filter(is_active=True)
    }


@dataclass
class FramePart:
    """Rows of some entries (arrays as read_frames gives them, perhaps memory-mapped), with
    their multi-index when large, and the ids of entries among them removed since."""

    arrays: dict[str, np.ndarray]
    multi_index: _MultiIndex | None = None
    removed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def build(cls, arrays: dict[str, np.ndarray], tmax: int) -> "FramePart":
        words = arrays["words"]
        multi = None
        if len(words) >= bank_index.MULTI_INDEX_MIN_ENTRIES:
            plan = _plan(256, tmax, len(words))
            if plan is not None:
                multi = _MultiIndex(words, tmax, plan[0])
        return cls(arrays, multi)

    def __len__(self) -> int:
        return len(self.arrays["entry"])


def max_distance() -> int:
    values = [p.distance for p in bank_video_params().values()]
    return max(values, default=DEFAULT_THRESHOLDS["vpdq"])


@dataclass
class FrameIndex:
    """The parts (a snapshot's and the entries added since, or one built here), queried as one.
    A frame hit is (entry id, frame key, time in the entry's video, distance); frame keys are
    unique across parts."""

    parts: list[FramePart]
    banks: dict[int, BankVideoParams]
    snapshot: object | None = None

    def __post_init__(self):
        top = max(self.banks, default=0) + 1
        self.distance = np.full(top, -1, np.int16)
        self.min_quality = np.full(top, 101, np.int16)
        for pk, params in self.banks.items():
            self.distance[pk] = params.distance
            self.min_quality[pk] = params.quality
        self._offsets = np.cumsum([0] + [len(p) for p in self.parts])
        # Per entry: its bank and how many distinct frames reach the bank's quality filter.
        ids, banks, counts = [], [], []
        for part in self.parts:
            a = part.arrays
            if not len(part):
                continue
            bank = np.asarray(a["bank"])
            known = bank < top
            counted = known.copy()
            counted[known] = np.asarray(a["quality"])[known] >= self.min_quality[bank[known]]
            entry = np.asarray(a["entry"])
            first = np.unique(entry, return_index=True)
            ids.append(first[0])
            banks.append(bank[first[1]])
            per_entry = np.unique(entry[counted], return_counts=True)
            full = np.zeros(len(first[0]), np.int64)
            full[np.searchsorted(first[0], per_entry[0])] = per_entry[1]
            counts.append(full)
        self._ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        order = np.argsort(self._ids, kind="stable")
        self._ids = self._ids[order]
        self._banks = np.concatenate(banks)[order] if banks else np.zeros(0, np.int32)
        self._counts = np.concatenate(counts)[order] if counts else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def delta_size(self) -> int:
        """Rows and removals on top of the snapshot (for deciding to take a new one)."""
        if self.snapshot is None:
            return 0
        return sum(len(p) for p in self.parts[1:]) + len(self.parts[0].removed)

    def _entry(self, entry_id: int) -> int:
        i = int(np.searchsorted(self._ids, entry_id))
        return i if i < len(self._ids) and self._ids[i] == entry_id else -1

    def unique_count(self, entry_id: int) -> int:
        i = self._entry(entry_id)
        return int(self._counts[i]) if i >= 0 else 0

    def bank_of(self, entry_id: int) -> int:
        return int(self._banks[self._entry(entry_id)])

    def query(self, pdq: str) -> list[tuple[int, int, float, int]]:
        raw = bytes.fromhex(pdq)
        found = []
        for offset, part in zip(self._offsets, self.parts, strict=False):
            if not len(part):
                continue
            a = part.arrays
            bank = a["bank"]
            thresholds = _Thresholds(bank, self.distance)
            if thresholds.max() < 0:
                continue
            hits = part.multi_index.search(raw, thresholds) if part.multi_index else None
            if hits is None:
                hits = _within(a["words"], thresholds, thresholds.max(), raw, None)
            rows, distances = hits
            if not len(rows):
                continue
            # (Rows of banks unknown here never come back: their distance is -1.)
            keep = np.asarray(a["quality"][rows]) >= self.min_quality[np.asarray(bank[rows])]
            entries = np.asarray(a["entry"][rows])
            if len(part.removed):
                keep &= ~np.isin(entries, part.removed)
            for row, entry, distance in zip(
                rows[keep].tolist(), entries[keep].tolist(), distances[keep].tolist(), strict=True
            ):
                found.append((entry, int(offset) + row, float(a["time"][row]), distance))
        return found


class _Thresholds:
    """Each row's distance from its bank's as it is now (-1: bank inactive or gone)."""

    def __init__(self, bank: np.ndarray, lut: np.ndarray):
        self.bank, self.lut = bank, lut
        self._max = int(lut.max()) if len(lut) else -1

    def __getitem__(self, rows):
        bank = np.asarray(self.bank[rows])
        return np.where(bank < len(self.lut), self.lut[np.minimum(bank, len(self.lut) - 1)], -1)

    def max(self) -> int:
        return self._max


def build_frame_index(entries=None) -> FrameIndex:
    """The frame index of the live vPDQ entries of active banks (or of those among the queryset
    `entries`: an import's), built here from the database."""
    part = FramePart.build(read_frames(vpdq_frames(entries)), max_distance())
    return FrameIndex([part], bank_video_params())


def part_from_files(load, meta: dict, removed: np.ndarray) -> FramePart:
    arrays = {name: load(name) for name in ARRAYS}
    multi = None
    if meta.get("plan"):
        tables = {name: load(name) for name in _MultiIndex.ARRAYS}
        plan = [tuple(p) for p in meta["plan"]]
        multi = _MultiIndex.from_arrays(arrays["words"], meta["tmax"], plan, tables)
    return FramePart(arrays, multi, removed)
