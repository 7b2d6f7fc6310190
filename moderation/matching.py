"""Matching hashes against the banks.

Perceptual signals (PDQ, pHash, dHash) match by Hamming distance against an in-memory index per
signal type, built from the live entries of active banks. The index is exact: it compares the query
with every entry (vectorised XOR and popcount), so it returns precisely what brute force returns at
each bank's threshold. Each process keeps its own index and rebuilds it when `BankVersion` says the
banks changed (checked at most every REFRESH_SECONDS), so new entries match within seconds in every
worker. Exact signals (MD5, SHA-256) match by equality in the database.
"""

import time
from dataclasses import dataclass

import numpy as np

from moderation.banks import HEX_LENGTH, PERCEPTUAL, BankEntry, BankVersion, HashBank

REFRESH_SECONDS = 2.0


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


@dataclass
class SignalIndex:
    entry_ids: np.ndarray  # int64, one per entry
    words: np.ndarray  # uint64, (entries, words per hash)
    thresholds: np.ndarray  # int16, each entry's bank threshold

    def query(self, hex_value: str, signal_type: str) -> list[tuple[int, int]]:
        """(entry id, distance) for every entry within its bank's threshold."""
        if not len(self.entry_ids):
            return []
        q = to_words([hex_value], signal_type)[0]
        distances = np.bitwise_count(self.words ^ q).sum(axis=1, dtype=np.int16)
        hits = np.nonzero(distances <= self.thresholds)[0]
        return [(int(self.entry_ids[i]), int(distances[i])) for i in hits]


def build_index(signal_type: str) -> SignalIndex:
    rows = list(
        BankEntry.objects.filter(
            signal_type=signal_type, removed_at__isnull=True, bank__is_active=True
        )
        .order_by("pk")
        .values_list("pk", "value", "bank_id")
    )
    thresholds = {b.pk: b.threshold(signal_type) for b in HashBank.objects.filter(is_active=True)}
    if not rows:
        width = HEX_LENGTH[signal_type] // 16
        return SignalIndex(
            np.zeros(0, np.int64), np.zeros((0, width), np.uint64), np.zeros(0, np.int16)
        )
    ids, values, banks = zip(*rows, strict=True)
    return SignalIndex(
        entry_ids=np.fromiter(ids, np.int64, len(ids)),
        words=to_words(list(values), signal_type),
        thresholds=np.fromiter((thresholds[b] for b in banks), np.int16, len(banks)),
    )


class _Cache:
    version: int | None = None
    checked_at: float = 0.0
    indexes: dict[str, SignalIndex] = {}


def current_index(signal_type: str) -> SignalIndex:
    now = time.monotonic()
    if now - _Cache.checked_at > REFRESH_SECONDS or _Cache.version is None:
        version = BankVersion.current()
        if version != _Cache.version:
            _Cache.indexes = {}
            _Cache.version = version
        _Cache.checked_at = now
    if signal_type not in _Cache.indexes:
        _Cache.indexes[signal_type] = build_index(signal_type)
    return _Cache.indexes[signal_type]


def forget_indexes() -> None:
    _Cache.version, _Cache.checked_at, _Cache.indexes = None, 0.0, {}


@dataclass(frozen=True)
class Hit:
    entry_id: int
    signal_type: str
    distance: int
    variant: int | None = None


def find_matches(
    *,
    pdq_variants: list[str] = (),
    pdq_quality: int | None = None,
    phash: str = "",
    dhash: str = "",
    md5: str = "",
    sha256: str = "",
) -> list[Hit]:
    """Every live entry the hashes match, the closest hit per entry."""
    from moderation.banks import MIN_PDQ_QUALITY

    best: dict[int, Hit] = {}

    def keep(hit: Hit):
        if hit.entry_id not in best or hit.distance < best[hit.entry_id].distance:
            best[hit.entry_id] = hit

    if pdq_variants and (pdq_quality is None or pdq_quality >= MIN_PDQ_QUALITY):
        index = current_index("pdq")
        for variant, value in enumerate(pdq_variants):
            for entry_id, distance in index.query(value, "pdq"):
                keep(Hit(entry_id, "pdq", distance, variant))
    for signal_type, value in (("phash", phash), ("dhash", dhash)):
        if value:
            for entry_id, distance in current_index(signal_type).query(value, signal_type):
                keep(Hit(entry_id, signal_type, distance))
    exact = [(t, v) for t, v in (("md5", md5), ("sha256", sha256)) if v]
    for signal_type, value in exact:
        for entry_id in BankEntry.objects.filter(
            signal_type=signal_type, value=value, removed_at__isnull=True, bank__is_active=True
        ).values_list("pk", flat=True):
            keep(Hit(entry_id, signal_type, 0))
    return sorted(best.values(), key=lambda h: (h.distance, h.entry_id))


__all__ = ["PERCEPTUAL", "Hit", "MalformedHash", "find_matches", "forget_indexes", "parse_hex"]
