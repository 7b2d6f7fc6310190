"""The index structures for perceptual hashes: exact Hamming-distance search at each entry's own
threshold. Large indexes find their candidates by multi-index hashing (`_MultiIndex`) and check
them exactly; small ones compare with every entry (vectorised XOR and popcount). Plain numpy
arrays, so an index snapshot can write them to files once and every process memory-map them
(moderation/banks/snapshot.py). Which entries go in, and keeping them current, is
moderation/banks/matching.py's part.
"""

import struct
import threading
from dataclasses import dataclass, field
from itertools import combinations
from math import comb

import numpy as np

from moderation.banks.models import HEX_LENGTH


class MalformedHash(ValueError):
    pass


def parse_hex(signal_type: str, value: str) -> str:
    """A hash as lower-case hex of the right length for its signal type, or MalformedHash."""
    if signal_type not in HEX_LENGTH:
        raise MalformedHash(f"unknown signal type {signal_type!r}")
    cleaned = value.strip().lower()
    if len(cleaned) != HEX_LENGTH[signal_type] or any(c not in "0123456789abcdef" for c in cleaned):
        raise MalformedHash(
            f"a {signal_type} hash is {HEX_LENGTH[signal_type]} hex digits, not {value.strip()[:80]!r}"
        )
    return cleaned


def to_words(hex_values: list[str], signal_type: str) -> np.ndarray:
    width = HEX_LENGTH[signal_type] // 16
    raw = bytes.fromhex("".join(hex_values))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(hex_values), width)


# Below this many entries a query compares with every entry: that is already fast (~0.1 ms for 20,000
# PDQ hashes on one core) and needs no tables.
MULTI_INDEX_MIN_ENTRIES = 20_000
# The multi-index tables may take at most this many bytes per entry (int32 slots), so a small index
# does not allocate huge, mostly empty tables.
TABLE_BYTES_PER_ENTRY = 160
# Widest substring indexed: a table of 2**24 slots is 64 MiB.
MAX_SUBSTRING_BITS = 24
# Estimated cost, in microseconds, of the parts of a query (measured on the standard machine with
# bench/match.py); only the ratios matter, to choose the substrings and to choose brute force.
COST_QUERY, COST_PROBE, COST_CANDIDATE, COST_BRUTE_WORD = 20.0, 0.012, 0.035, 0.0012
# A query whose candidates exceed this fraction of the entries is answered by brute force instead
# (clustered banks can make some buckets huge; brute force bounds the worst case).
MAX_CANDIDATE_FRACTION = 0.125
# Bytes of popcounts per 256-bit hash, read as one little-endian uint32: multiplying by this puts
# their sum in the top byte (each is at most 64, so lower bytes never carry).
_SUM_BYTES = np.uint32(0x01010101)
_NO_HITS = (np.zeros(0, np.int64), np.zeros(0, np.int16))
# Brute force works through the entries this many 64-bit words at a time (256 KiB).
BLOCK_WORDS = 32768


def _ball(width: int, radius: int) -> np.ndarray:
    """Every XOR mask of at most `radius` bits over `width` bits (0 first)."""
    masks = [0]
    for r in range(1, radius + 1):
        for bits in combinations(range(width), r):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.int64)


def _ball_size(width: int, radius: int) -> int:
    return sum(comb(width, r) for r in range(radius + 1))


def _plan(nbits: int, tmax: int, n: int) -> tuple[list[tuple[int, int]], float] | None:
    """The substrings (width, radius) to index, or None if brute force is cheaper.

    Pigeonhole (generalised, as in multi-index hashing): cut the hash into substrings i of radius
    r_i with sum(r_i + 1) = tmax + 1. If d(h, q) <= tmax, some substring i has d_i <= r_i, or else
    d >= sum(r_i + 1) > tmax. So probing each substring's table at every key within r_i of the
    query's key finds every entry within tmax; candidates are then checked exactly. The substrings
    need not cover every bit. Here they get radius q or q - 1 (units spread evenly), and the
    cheapest widths by a cost model fitted on bench/match.py: for 1,000,000 PDQ hashes at 31, eight
    22-bit substrings of radius 2 and four 20-bit ones of radius 1 (2,116 probes, ~570 candidates).
    """
    words = nbits // 64
    brute = COST_QUERY / 2 + COST_BRUTE_WORD * n * words
    budget = TABLE_BYTES_PER_ENTRY * n / 4  # int32 slots
    best, best_cost = None, brute
    units = tmax + 1
    for m in range(1, min(nbits, 64) + 1):
        q, r = divmod(units, m)
        # r substrings get q + 1 units (radius q), the rest q units (radius q - 1, or not indexed).
        radii = [q] * r + [q - 1] * (m - r)
        radii = [x for x in radii if x >= 0]
        k = len(radii)
        hi = radii.count(radii[0])
        for w_hi in range(1, MAX_SUBSTRING_BITS + 1):
            # Bits left out of every substring are allowed: the bound holds all the same.
            if k == hi:  # one radius: the bits split evenly, at most w_hi each
                widths = [min(nbits // k + (i < nbits % k), w_hi) for i in range(k)]
            else:
                rest = nbits - hi * w_hi
                if rest < k - hi:
                    break
                w_lo, extra = divmod(rest, k - hi)
                lo = [min(w_lo + (i < extra), MAX_SUBSTRING_BITS) for i in range(k - hi)]
                widths = [w_hi] * hi + lo
            if sum(2**w for w in widths) > budget:
                continue
            probes = candidates = 0.0
            for w, rad in zip(widths, radii, strict=True):
                size = _ball_size(w, rad)
                probes += size
                candidates += size * n / 2**w
            cost = COST_QUERY + COST_PROBE * probes + COST_CANDIDATE * candidates * (1 + words) / 5
            if cost < best_cost:
                best, best_cost = list(zip(widths, radii, strict=True)), cost
    return (best, best_cost) if best else None


class _MultiIndex:
    """Multi-index hashing over the rows of `words` (uint64, most significant word first).

    Each substring has a table with a slot per possible key, holding the row when exactly one entry
    has that key (most of them), -1 when none does, and ~j when several do: their rows are
    runs[ends[j] - counts[j]:ends[j]]. A bitmap of the non-empty slots (a few MB, so it mostly stays
    in cache) is probed first, so only the non-empty slots of the table are read.

    The tables are plain arrays (ARRAYS): an index snapshot writes them to files once and every
    process memory-maps them (moderation/banks/snapshot.py, `from_arrays`).
    """

    ARRAYS = ("table", "runs", "ends", "counts", "bitmap")

    def __init__(self, words: np.ndarray, tmax: int, plan: list[tuple[int, int]]):
        n, nwords = words.shape
        self.words = words
        # Widest tables first, so each table's base is a multiple of its size: key | base.
        plan = sorted(plan, key=lambda p: -p[0])
        index = np.int32 if len(plan) * n < 2**31 - 2 else np.int64
        self.table = np.full(sum(1 << width for width, _ in plan), -1, index)
        runs, ends, counts = [], [np.zeros(1, index)], [np.zeros(1, index)]
        start, base, end, shared = 0, 0, 0, 0
        for width, _radius in plan:
            # Sort the rows by key (one pass per substring, so building holds little at a time).
            key = _substring(words, start, width)
            order = np.argsort(key, kind="stable")
            key = key[order]
            first = np.flatnonzero(np.diff(key, prepend=-1))
            count = np.diff(first, append=n)
            slots = key[first] + base
            del key
            one = count == 1
            self.table[slots[one]] = order[first[one]]
            if not one.all():
                several = ~one
                runs.append(order[np.repeat(several, count)].astype(index))
                count = count[several]
                ends.append((end + np.cumsum(count)).astype(index))
                counts.append(count.astype(index))
                self.table[slots[several]] = ~np.arange(shared + 1, shared + 1 + len(count))
                end += int(count.sum())
                shared += len(count)
            del order, first, count, slots, one
            start += width
            base += 1 << width
        self.runs = np.concatenate(runs) if runs else np.zeros(0, index)
        self.ends, self.counts = np.concatenate(ends), np.concatenate(counts)
        self.bitmap = np.packbits(self.table != -1, bitorder="little")
        self._layout(n, nwords, tmax, plan)

    @classmethod
    def from_arrays(
        cls, words: np.ndarray, tmax: int, plan: list[tuple[int, int]], arrays: dict
    ) -> "_MultiIndex":
        """An index over `words` whose tables were built before (and saved: `arrays()`)."""
        self = cls.__new__(cls)
        self.words = words
        for name in cls.ARRAYS:
            setattr(self, name, arrays[name])
        n, nwords = words.shape
        self._layout(n, nwords, tmax, sorted(plan, key=lambda p: -p[0]))
        return self

    def arrays(self) -> dict:
        return {name: getattr(self, name) for name in self.ARRAYS}

    def _layout(self, n: int, nwords: int, tmax: int, plan: list[tuple[int, int]]) -> None:
        """What queries need besides the tables: small, computed from the plan."""
        self.tmax, self.plan = tmax, plan
        self.max_candidates = max(1024, int(n * MAX_CANDIDATE_FRACTION))
        nbits = 64 * nwords
        self.parts, masks, subid = [], [], []
        start, base = 0, 0
        for i, (width, radius) in enumerate(plan):
            self.parts.append((nbits - start - width, (1 << width) - 1, base))
            ball = _ball(width, radius)
            masks.append(ball)
            subid.append(np.full(len(ball), i, np.int64))
            start += width
            base += 1 << width
        self.masks = np.concatenate(masks)
        self.subid = np.concatenate(subid)
        self.probes = len(self.masks)
        self._bit = np.array([1 << b for b in range(8)], np.uint8)
        self._arange = np.arange(self.max_candidates + 1)

    @property
    def nbytes(self) -> int:
        arrays = (self.table, self.runs, self.ends, self.counts, self.bitmap, self.masks)
        return sum(a.nbytes for a in (*arrays, self.subid, self._arange))

    def candidates(self, q: int) -> np.ndarray | None:
        """Rows that may be within tmax of q (with repeats), or None when there are too many."""
        keys = np.array([((q >> shift) & mask) | base for shift, mask, base in self.parts])
        probes = keys[self.subid]
        probes ^= self.masks
        occupied = self.bitmap.take(probes >> 3)
        occupied &= self._bit.take(probes & 7)
        # (compress and take are faster than boolean and fancy indexing for these sizes.)
        slots = self.table.take(probes.compress(occupied != 0))
        single = slots.compress(slots >= 0)
        shared = ~slots.compress(slots < 0)
        if not len(shared):
            return single
        counts = self.counts.take(shared)
        ends = np.add.accumulate(counts)
        total = int(ends[-1])
        if total + len(single) > self.max_candidates:
            return None
        rows = np.repeat(self.ends.take(shared) - ends, counts)
        rows += self._arange[:total]
        return np.concatenate((single, self.runs.take(rows)))

    def search(self, raw: bytes, thresholds) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, distances) within each row's threshold, rows ascending; None: use brute force
        (too many candidates, or thresholds above what the tables were planned for)."""
        if thresholds.max() > self.tmax:
            return None
        cand = self.candidates(int.from_bytes(raw, "big"))
        if cand is None:
            return None
        return _within(self.words, thresholds, self.tmax, raw, cand)


def _substring(words: np.ndarray, start: int, width: int) -> np.ndarray:
    """Bits [start, start + width) of each row (bit 0 the most significant), as int64."""
    word, offset = divmod(start, 64)
    end = offset + width
    column = words[:, word]
    if end <= 64:
        key = (column >> np.uint64(64 - end)) & np.uint64((1 << width) - 1)
    else:
        low = end - 64
        key = ((column & np.uint64((1 << (64 - offset)) - 1)) << np.uint64(low)) | (
            words[:, word + 1] >> np.uint64(64 - low)
        )
    return key.astype(np.int64)


def _within(
    words: np.ndarray, thresholds: np.ndarray, tmax: int, raw: bytes, rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The rows (all if None; repeats allowed) within their own threshold of the query `raw`:
    (rows ascending, distances)."""
    nwords = words.shape[1]
    native = struct.pack(f"={nwords}Q", *struct.unpack(f">{nwords}Q", raw))
    if rows is None:
        near = _scan(words, native, tmax)
    elif len(rows):
        x = words.take(rows, axis=0).reshape(-1)
        # XOR with the query repeated: much faster than broadcasting over rows of 1-4 words.
        x ^= np.frombuffer(native * len(rows), np.uint64)
        near = rows[np.flatnonzero(_at_most(np.bitwise_count(x), nwords, tmax))]
    else:
        return _NO_HITS
    if not len(near):
        return _NO_HITS
    distances = np.bitwise_count(words[near] ^ np.frombuffer(native, np.uint64))
    distances = distances.sum(axis=1, dtype=np.int16)
    keep = distances <= thresholds[near]
    near, distances = near[keep], distances[keep]
    if rows is not None and len(near) > 1:
        near, first = np.unique(near, return_index=True)  # a row may come from several tables
        distances = distances[first]
    return near, distances


def _at_most(counts: np.ndarray, nwords: int, tmax: int, out: np.ndarray | None = None):
    """Per row, whether the popcounts of its words (flat uint8, nwords per row) add up to at most
    tmax; perhaps true for a few more rows (callers check again exactly)."""
    if nwords == 4 and tmax < 255:
        # Sum the four popcounts in one multiply: each is at most 64, so lower bytes never carry
        # into the top one; a sum of 256 wraps to 0 (a false positive, rechecked).
        sums = counts.view(np.uint32) * _SUM_BYTES
        return np.less(sums, np.uint32((tmax + 1) << 24), out=out)
    if nwords == 1:
        return np.less_equal(counts, tmax, out=out)
    return np.less_equal(counts.reshape(-1, nwords).sum(axis=1), tmax, out=out)


_scratch = threading.local()


def _scan(words: np.ndarray, native: bytes, tmax: int) -> np.ndarray:
    """Brute force: the rows within tmax of the query (perhaps a few more), a block at a time
    through buffers kept per thread, so no query allocates (and page-faults in) large arrays."""
    n, nwords = words.shape
    rows = max(1, BLOCK_WORDS // nwords)
    size = min(rows, n) * nwords
    if getattr(_scratch, "shape", None) != (rows, nwords):
        _scratch.shape = (rows, nwords)
        _scratch.tiled = np.empty(rows * nwords, np.uint64)
        _scratch.x = np.empty(rows * nwords, np.uint64)
        _scratch.counts = np.empty(rows * nwords, np.uint8)
        _scratch.mask = np.empty(rows, bool)
    tiled, x, counts, mask = _scratch.tiled, _scratch.x, _scratch.counts, _scratch.mask
    tiled[:nwords] = np.frombuffer(native, np.uint64)
    filled = nwords
    while filled < size:  # the query repeated, by doubling
        more = min(filled, size - filled)
        tiled[filled : filled + more] = tiled[:more]
        filled += more
    found = []
    for start in range(0, n, rows):
        block = words[start : start + rows].reshape(-1)
        k = len(block)
        np.bitwise_xor(block, tiled[:k], out=x[:k])
        np.bitwise_count(x[:k], out=counts[:k])
        hits = np.flatnonzero(_at_most(counts[:k], nwords, tmax, out=mask[: k // nwords]))
        if len(hits):
            found.append(hits + start)
    return np.concatenate(found) if found else _NO_HITS[0]


@dataclass
class SignalIndex:
    """The live entries of one signal type, queried exactly at each entry's own threshold.

    Large indexes answer through multi-index hashing (_MultiIndex: ~2,000 table probes and a few
    hundred candidates checked exactly for 1,000,000 PDQ hashes at 31, instead of comparing with all
    of them); small ones, and queries whose candidates would be too many, by brute force.
    """

    entry_ids: np.ndarray  # int64, one per entry
    words: np.ndarray  # uint64, (entries, words per hash)
    thresholds: np.ndarray  # int16, each entry's bank threshold
    multi_index: _MultiIndex | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.words = np.ascontiguousarray(self.words, dtype=np.uint64)
        n = len(self.entry_ids)
        if n == 0 or n < MULTI_INDEX_MIN_ENTRIES or self.thresholds.max() < 0:
            return
        plan = _plan(64 * self.words.shape[1], int(self.thresholds.max()), n)
        if plan is not None:
            self.multi_index = _MultiIndex(self.words, int(self.thresholds.max()), plan[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the index: the entries and, if built, the multi-index tables."""
        own = self.entry_ids.nbytes + self.words.nbytes + self.thresholds.nbytes
        return own + (self.multi_index.nbytes if self.multi_index else 0)

    def query(self, hex_value: str, signal_type: str) -> list[tuple[int, int]]:
        """(entry id, distance) for every entry within its bank's threshold."""
        if not len(self.entry_ids):
            return []
        raw = bytes.fromhex(hex_value)
        if len(raw) * 2 != HEX_LENGTH[signal_type]:
            raise MalformedHash(f"a {signal_type} hash is {HEX_LENGTH[signal_type]} hex digits")
        found = self.multi_index.search(raw, self.thresholds) if self.multi_index else None
        if found is None:
            found = _within(self.words, self.thresholds, int(self.thresholds.max()), raw, None)
        rows, distances = found
        return list(zip(self.entry_ids[rows].tolist(), distances.tolist(), strict=True))

    def brute_force(self, hex_value: str, signal_type: str) -> list[tuple[int, int]]:
        """What query() must return, by comparing with every entry (for tests and benchmarks)."""
        q = to_words([hex_value], signal_type)[0]
        distances = np.bitwise_count(self.words ^ q).sum(axis=1, dtype=np.int16)
        hits = np.nonzero(distances <= self.thresholds)[0]
        return [(int(self.entry_ids[i]), int(distances[i])) for i in hits]
