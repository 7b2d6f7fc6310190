"""The in-memory index answers exactly what brute force answers, on its fast path too.

No database: SignalIndex is built straight from arrays, as build_index does from the banks.
"""

import numpy as np
import pytest

from moderation.banks import index as bank_index
from moderation.banks.index import MalformedHash, SignalIndex, _MultiIndex, _plan

WORDS = {"pdq": 4, "phash": 1, "dhash": 1}


def random_words(rng, n: int, signal_type: str) -> np.ndarray:
    return rng.integers(0, 2**64, (n, WORDS[signal_type]), dtype=np.uint64)


def to_hex(row: np.ndarray) -> str:
    return row.astype(">u8").tobytes().hex()


def queries(rng, words: np.ndarray, count: int, max_flips: int) -> list[str]:
    """Half near an entry (0..max_flips bits flipped), half random."""
    nbits = 64 * words.shape[1]
    out = []
    for i in range(count):
        if i % 2:
            out.append(to_hex(rng.integers(0, 2**64, words.shape[1], dtype=np.uint64)))
            continue
        row = words[rng.integers(len(words))].copy()
        for bit in rng.choice(nbits, rng.integers(0, max_flips + 1), replace=False):
            row[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
        out.append(to_hex(row))
    return out


def assert_exact(index: SignalIndex, signal_type: str, qs: list[str]) -> int:
    hits = 0
    for q in qs:
        got = index.query(q, signal_type)
        assert got == index.brute_force(q, signal_type), q
        hits += len(got)
    return hits


def test_the_multi_index_is_exact_at_every_entry_threshold():
    rng = np.random.default_rng(20261122)
    n = 50_000
    words = random_words(rng, n, "pdq")
    # Entries from banks with different thresholds, up to PDQ's 31; some at 0 (exact copies only).
    thresholds = rng.choice(np.array([0, 8, 16, 24, 30, 31], np.int16), n)
    # A few exact duplicates (the same hash in two banks) and near-duplicates.
    words[100:150] = words[:50]
    words[200:250] = words[:50] ^ np.uint64(0b1011)
    index = SignalIndex(np.arange(n, dtype=np.int64) + 1000, words, thresholds)
    assert index.multi_index is not None
    hits = assert_exact(index, "pdq", queries(rng, words, 2000, 40))
    assert hits > 300  # the near queries did find their entries


@pytest.mark.parametrize("signal_type,tmax", [("phash", 10), ("dhash", 16)])
def test_64_bit_hashes_are_exact_too(signal_type, tmax, monkeypatch):
    # Force the multi-index even where the cost model would scan (64-bit hashes at 16).
    monkeypatch.setattr(bank_index, "COST_BRUTE_WORD", 1.0)
    rng = np.random.default_rng(tmax)
    n = 30_000
    words = random_words(rng, n, signal_type)
    thresholds = rng.integers(0, tmax + 1, n).astype(np.int16)
    index = SignalIndex(np.arange(n, dtype=np.int64), words, thresholds)
    assert index.multi_index is not None
    assert_exact(index, signal_type, queries(rng, words, 1500, tmax + 4))


def test_crowded_buckets_fall_back_to_brute_force_and_stay_exact():
    # Real banks are not uniform: here 40% of the entries share their first 64 bits, so the
    # tables' buckets for those keys are huge and a query near them scans instead.
    rng = np.random.default_rng(5)
    n = 40_000
    words = random_words(rng, n, "pdq")
    words[: n * 2 // 5, 0] = np.uint64(0x0123456789ABCDEF)
    index = SignalIndex(np.arange(n, dtype=np.int64), words, np.full(n, 31, np.int16))
    assert index.multi_index is not None
    crowded = to_hex(words[7])
    assert index.multi_index.search(bytes.fromhex(crowded), index.thresholds) is None  # too many
    assert_exact(index, "pdq", [crowded] + queries(rng, words, 600, 31))


def test_the_plan_always_satisfies_the_pigeonhole_bound():
    for nbits, tmax, n in [
        (256, 31, 1_000_000),
        (256, 31, 50_000),
        (64, 10, 1_000_000),
        (256, 0, 10**6),
    ]:
        plan, _ = _plan(nbits, tmax, n)
        assert sum(radius + 1 for _, radius in plan) == tmax + 1
        assert sum(width for width, _ in plan) <= nbits


def test_a_hand_made_plan_with_uncovered_bits_is_exact():
    # Substrings need not cover every bit: 3 substrings of radius 0..2 for a threshold of 5 on
    # 64-bit hashes, covering 48 bits.
    rng = np.random.default_rng(9)
    n = 20_000
    words = random_words(rng, n, "phash")
    thresholds = np.full(n, 5, np.int16)
    index = SignalIndex(np.arange(n, dtype=np.int64), words, thresholds)
    index.multi_index = _MultiIndex(words, 5, [(16, 0), (16, 1), (16, 2)])
    assert_exact(index, "phash", queries(rng, words, 1000, 8))


def test_small_and_empty_indexes_scan():
    rng = np.random.default_rng(2)
    words = random_words(rng, 500, "pdq")
    index = SignalIndex(np.arange(500, dtype=np.int64), words, np.full(500, 31, np.int16))
    assert index.multi_index is None
    assert_exact(index, "pdq", queries(rng, words, 200, 40))
    empty = SignalIndex(np.zeros(0, np.int64), np.zeros((0, 4), np.uint64), np.zeros(0, np.int16))
    assert empty.query("00" * 32, "pdq") == []


def test_a_hash_of_the_wrong_length_is_refused():
    index = SignalIndex(np.zeros(1, np.int64), np.zeros((1, 1), np.uint64), np.zeros(1, np.int16))
    with pytest.raises(MalformedHash):
        index.query("00" * 32, "phash")
