"""Matching hashes against the banks.

Perceptual signals (PDQ, pHash, dHash) match by Hamming distance against an index per signal type
(moderation/banks/index.py: exact, it returns precisely what comparing the query with every entry
returns at each bank's threshold; bench/match.py measures it against brute force and
python-threatexchange's PDQIndex, docs/performance.md). Large banks are matched through an index
snapshot every process on a machine memory-maps, with the entries added and removed since as a small
delta on top (moderation/banks/snapshot.py); small ones through an index each process builds from
the database. Either way a process looks again when `BankVersion` says the banks changed (checked at
most every REFRESH_SECONDS), so new entries match within seconds in every worker. Exact signals
(MD5, SHA-256) match by equality in the database.
"""

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from lib.locks import lock_key, session_lock
from moderation.banks.frame_index import (
    FrameIndex,
    FramePart,
    build_frame_index,
    max_distance,
    read_frames,
    vpdq_frames,
)
from moderation.banks.index import SignalIndex
from moderation.banks.jobs import take_index_snapshot
from moderation.banks.models import (
    MIN_PDQ_QUALITY,
    PERCEPTUAL,
    SAME_DIGEST,
    BankEntry,
    BankVersion,
)
from moderation.banks.snapshot import (
    LayeredIndex,
    bank_thresholds,
    fold_due,
    frame_snapshot_load,
    index_snapshot_take,
    latest_snapshot,
    read_entries,
    request_snapshot,
    snapshot_load,
)
from moderation.banks.video_matching import (
    match_frames_in_image_index,
    match_image_in_frame_index,
    match_video,
)
from moderation.outbox.services import enqueue
from reports.hashing import PerceptualHashes
from reports.vpdq import FrameHash

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0


def build_index(
    signal_type: str,
    entry_ids: list[int] | None = None,
    above: int | None = None,
    entries=None,
) -> SignalIndex:
    """The index of the live entries of active banks: all of them, or just `entry_ids` among
    them, or those with an id above `above` (a snapshot's delta), or those of the queryset
    `entries` (an import's)."""
    live = BankEntry.objects.all() if entries is None else entries
    live = live.filter(signal_type=signal_type, removed_at__isnull=True, bank__is_active=True)
    if entry_ids is not None:
        live = live.filter(pk__in=entry_ids)
    if above is not None:
        live = live.filter(pk__gt=above)
    ids, words, bank_ids = read_entries(live, signal_type)
    lut = bank_thresholds(signal_type)
    return SignalIndex(entry_ids=ids, words=words, thresholds=lut[bank_ids])


class _Cache:
    version: int | None = None
    checked_at: float = 0.0
    indexes: dict[str, SignalIndex] = {}


def _check_version(*, now: bool = False, version: int | None = None) -> None:
    """Drop the indexes if the banks changed: looked up at most every REFRESH_SECONDS, or `now`,
    or as `version` (read just now by the caller) says."""
    clock = time.monotonic()
    due = now or _Cache.version is None or clock - _Cache.checked_at > REFRESH_SECONDS
    if version is None and not due:
        return
    if version is None:
        version = BankVersion.current()
    if version != _Cache.version:
        _Cache.indexes = {}
        _Cache.version = version
    _Cache.checked_at = clock


def current_index(signal_type: str) -> SignalIndex | LayeredIndex | FrameIndex:
    _check_version()
    if signal_type not in _Cache.indexes:
        _Cache.indexes[signal_type] = _fresh_index(signal_type)
    return _Cache.indexes[signal_type]


def warm_indexes() -> None:
    """Bring every perceptual index, and the vPDQ frame index, up to date now (a worker does it
    before it forks a job, so the job starts with them: config/worker.py)."""
    for signal_type in (*PERCEPTUAL, "vpdq"):
        current_index(signal_type)


def _fresh_index(signal_type: str) -> SignalIndex | LayeredIndex | FrameIndex:
    """The signal type's index as the banks are now: its latest snapshot with the changes since,
    or, for banks too small to need one, built here from the database. vPDQ's is the frame index
    (moderation/banks/frame_index.py), snapshotted the same way."""
    snapshot = latest_snapshot(signal_type)
    if _too_large_to_build(signal_type, above=snapshot.high_water if snapshot else None):
        if connection.in_atomic_block:
            # Never inside a caller's transaction: the snapshot's mark would hold the bank write
            # gate, and every bank writer with it, until that transaction ends.
            request_snapshot(signal_type, enqueue_job=_enqueue_snapshot)
        else:
            # Never built in the memory of every worker (186 s and 1.75 GB each for 10M
            # entries, measured): the first process here takes a snapshot that every process
            # maps; the others, and an import's own snapshot job, wait for it and use it.
            snapshot = _take_snapshot_here(signal_type) or snapshot
    if snapshot is not None:
        try:
            if signal_type == "vpdq":
                index = frame_snapshot_load(snapshot, build_delta=_frame_delta)
            else:
                index = snapshot_load(snapshot, build_delta=_delta)
        except OSError:
            # A full or read-only cache directory must not stop matching: build it here.
            logger.exception("could not load index snapshot %s; building in memory", snapshot)
        else:
            if fold_due(index):
                request_snapshot(signal_type, enqueue_job=_enqueue_snapshot)
            return index
    return build_frame_index() if signal_type == "vpdq" else build_index(signal_type)


def _too_large_to_build(signal_type: str, *, above: int | None) -> bool:
    """Whether the live entries (above a snapshot's mark, if any) reach INDEX_SNAPSHOT_MIN_ENTRIES,
    counting no further than that; for vPDQ, their frames."""
    limit = settings.INDEX_SNAPSHOT_MIN_ENTRIES
    if signal_type == "vpdq":
        return vpdq_frames(above=above)[:limit].count() >= limit
    live = BankEntry.objects.filter(
        signal_type=signal_type, removed_at__isnull=True, bank__is_active=True
    )
    if above is not None:
        live = live.filter(pk__gt=above)
    return live[:limit].count() >= limit


def _take_snapshot_here(signal_type: str):
    try:
        return index_snapshot_take(signal_type=signal_type)
    except OSError:
        logger.exception("could not write an index snapshot for %s", signal_type)
        return None


def _delta(signal_type: str, after_id: int) -> SignalIndex:
    return build_index(signal_type, above=after_id)


def _frame_delta(after_id: int) -> FramePart:
    return FramePart.build(read_frames(vpdq_frames(above=after_id)), max_distance())


def _enqueue_snapshot(signal_type: str) -> None:
    enqueue(take_index_snapshot, signal_type)


# Between hashing jobs and retroactive matching: see matching_in_flight.
HASHING_COMMITS = "vigil:hashing-commits"


@contextmanager
def matching_in_flight():
    """Hold this around matching a media and committing what it found (the hashing job). It
    reads the bank version at its start, so the indexes matched with hold every entry committed
    before it; and it holds a lock (shared: hashing jobs never wait for each other) until the end,
    for which retroactive matching (`wait_for_hashing_commits`) waits before it reads the media
    received. An entry is then either in the index a media was matched with, or committed after,
    and its rematch sees the media: never missed by both. (The version is read as the lock is
    requested: an entry committed later has its rematch ask for the lock later, so behind this
    job.) Hold it outside any transaction: it may build or map an index."""
    if connection.vendor != "postgresql":
        _check_version(now=True)  # SQLite: one writing transaction at a time already
        yield
        return
    version_now = "SELECT version FROM moderation_bankversion WHERE id = 1"
    with session_lock(HASHING_COMMITS, shared=True, also=version_now) as version:
        _check_version(version=version or 0)
        yield


def wait_for_hashing_commits() -> None:
    """Wait until every hashing job matching now (matching_in_flight) has committed. SQLite: one
    writing transaction at a time already."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(HASHING_COMMITS)])


def forget_indexes() -> None:
    _Cache.version, _Cache.checked_at, _Cache.indexes = None, 0.0, {}


@dataclass(frozen=True)
class Hit:
    entry_id: int
    signal_type: str
    distance: int
    variant: int | None = None
    # Videos (moderation/banks/video_matching.py): where, and for a vPDQ entry how much.
    segments: tuple[dict, ...] = ()
    query_percent: float | None = None
    compared_percent: float | None = None


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
    exact = Q()
    for signal_type, value in (("md5", md5), ("sha256", sha256)):
        if value:
            exact |= Q(signal_type__in=SAME_DIGEST[signal_type], value=value)
    if exact:
        for entry_id, signal_type in BankEntry.objects.filter(
            exact, removed_at__isnull=True, bank__is_active=True
        ).values_list("pk", "signal_type"):
            keep(Hit(entry_id, signal_type, 0))
    return sorted(best.values(), key=lambda h: (h.distance, h.entry_id))


def find_image_matches(
    perceptual: PerceptualHashes | None, *, md5: str = "", sha256: str = ""
) -> list[Hit]:
    """find_matches for an image's hashes as reports.hashing computes them, its rotations and
    mirror images included (`perceptual` None: an image that could not be hashed, matched by its
    exact hashes only)."""
    if perceptual is None:
        return find_matches(md5=md5, sha256=sha256)
    hits = find_matches(
        pdq_variants=list(perceptual.pdq_dihedral),
        pdq_quality=perceptual.pdq_quality,
        phash=perceptual.phash,
        dhash=perceptual.dhash,
        md5=md5,
        sha256=sha256,
    )
    if perceptual.pdq_quality >= MIN_PDQ_QUALITY:
        # A still of a known video: its frames are in the banks' vPDQ entries.
        frames = current_index("vpdq")
        hits += [
            Hit(h.entry_id, "vpdq", h.distance, h.variant, h.segments)
            for h in match_image_in_frame_index(list(perceptual.pdq_dihedral), frames)
        ]
    return hits


def find_video_matches(
    frames: list[FrameHash], *, interval: float, md5: str = "", sha256: str = ""
) -> list[Hit]:
    """Every live entry a video matches: vPDQ entries by the reference comparison, image PDQ
    entries by any of its frames, and its exact digests. `interval`: seconds between its hashed
    frames."""
    hits = [
        Hit(h.entry_id, "vpdq", h.distance, None, h.segments, h.query_percent, h.compared_percent)
        for h in match_video(frames, current_index("vpdq"), interval=interval)
    ]
    pdq = current_index("pdq")
    hits += [
        Hit(h.entry_id, "pdq", h.distance, 0, h.segments)
        for h in match_frames_in_image_index(
            frames, lambda value: pdq.query(value, "pdq"), interval=interval
        )
    ]
    return hits + find_matches(md5=md5, sha256=sha256)


__all__ = [
    "PERCEPTUAL",
    "Hit",
    "find_image_matches",
    "find_matches",
    "find_video_matches",
    "forget_indexes",
]
