"""Near-duplicate clusters: media whose PDQ hashes are within the match threshold of each other,
and videos that are mostly the same frames (re-uploads, trims, re-encodes).

Each process keeps an in-memory list of the PDQ hashes of hashed media (and of hashed videos'
distinct frames), brought up to date from the database (by `hashed_at`) under a lock before
every assignment, so the media a worker hashes are compared with every media any worker hashed
before. Comparison is exact (XOR and popcount against every hash), and covers rotations and
mirror images through a new image's dihedral variants.

Two videos are near-duplicates by the reference's vPDQ comparison (reports/vpdq.py) at its
defaults (frames within 31 bits, quality 50): when at least 80% of either one's distinct frames
match frames of the other. "Either" folds a trim into its source: all of the trim's frames are
in the source, a fraction of the source's are in the trim.
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from lib.transactions import in_transaction
from moderation.banks.index import _within, to_words
from moderation.banks.models import DEFAULT_THRESHOLDS, MIN_PDQ_QUALITY, Cluster, ClusterLock
from reports.models import Media, VideoHash
from reports.vpdq import (
    COMPARED_PERCENT,
    DISTANCE,
    QUALITY,
    FrameHash,
    frames_from_text,
    unique_frames,
)

PDQ_THRESHOLD = DEFAULT_THRESHOLDS["pdq"]


def _room(ids: np.ndarray, words: np.ndarray, needed: int) -> tuple[np.ndarray, np.ndarray]:
    """The arrays with room for `needed` rows (capacity doubles: adding one row does not copy
    all the others)."""
    if needed <= len(ids):
        return ids, words
    capacity = max(needed, 2 * len(ids))
    return np.resize(ids, capacity), np.resize(words, (capacity, 4))


@dataclass
class _MediaHashes:
    """Growable arrays (capacity doubles, so adding one hash does not copy all the others)."""

    _ids: np.ndarray = field(default_factory=lambda: np.zeros(1024, np.int64))
    _words: np.ndarray = field(default_factory=lambda: np.zeros((1024, 4), np.uint64))
    size: int = 0
    loaded_until: datetime | None = None
    known: set = field(default_factory=set)

    def add(self, rows: list[tuple[int, str]]) -> None:
        rows = [(pk, pdq) for pk, pdq in rows if pk not in self.known]
        if not rows:
            return
        ids, hexes = zip(*rows, strict=True)
        needed = self.size + len(ids)
        self._ids, self._words = _room(self._ids, self._words, needed)
        self._ids[self.size : needed] = ids
        self._words[self.size : needed] = to_words(list(hexes), "pdq")
        self.size = needed
        self.known.update(ids)

    def near(self, variants: list[str], threshold: int) -> set[int]:
        if not self.size:
            return set()
        ids, words = self._ids[: self.size], self._words[: self.size]
        hits = set()
        for variant in variants:
            q = to_words([variant], "pdq")[0]
            distances = np.bitwise_count(words ^ q).sum(axis=1)
            hits.update(int(i) for i in ids[distances <= threshold])
        return hits

    def within(self, value: str, threshold: int) -> dict[int, int]:
        """Media id -> distance, for every hash within `threshold` of `value` (as stored)."""
        if not self.size:
            return {}
        rows, distances = _scan(self._words[: self.size], value, threshold)
        return dict(zip(self._ids[rows].tolist(), distances.tolist(), strict=True))


@dataclass
class _VideoFrames:
    """The distinct frames (at or above the quality filter) of every hashed video, each row
    owned by its media; growable like _MediaHashes."""

    _owners: np.ndarray = field(default_factory=lambda: np.zeros(1024, np.int64))
    _words: np.ndarray = field(default_factory=lambda: np.zeros((1024, 4), np.uint64))
    size: int = 0
    loaded_until: datetime | None = None
    frames_of: dict = field(default_factory=dict)  # media id -> its number of rows

    def add(self, media_id: int, hexes: list[str]) -> None:
        if media_id in self.frames_of or not hexes:
            return
        needed = self.size + len(hexes)
        self._owners, self._words = _room(self._owners, self._words, needed)
        self._owners[self.size : needed] = media_id
        self._words[self.size : needed] = to_words(hexes, "pdq")
        self.size = needed
        self.frames_of[media_id] = len(hexes)

    def near(self, hexes: list[str], distance: int, percent: float) -> set[int]:
        """The videos at least `percent` of whose frames, or of the query's, match."""
        if not self.size or not hexes:
            return set()
        owners, words = self._owners[: self.size], self._words[: self.size]
        compared_hit = np.zeros(self.size, bool)
        query_hits: dict[int, int] = {}
        for q in to_words(hexes, "pdq"):
            close = np.bitwise_count(words ^ q).sum(axis=1) <= distance
            if close.any():
                compared_hit |= close
                for owner in np.unique(owners[close]).tolist():
                    query_hits[owner] = query_hits.get(owner, 0) + 1
        compared_hits = dict(zip(*np.unique(owners[compared_hit], return_counts=True), strict=True))
        return {
            int(owner)
            for owner, hits in compared_hits.items()
            if hits * 100.0 >= percent * self.frames_of[int(owner)]
            or query_hits[int(owner)] * 100.0 >= percent * len(hexes)
        }

    def within(self, value: str, threshold: int) -> dict[int, int]:
        """Video media id -> its closest frame's distance, for every video with a frame within
        `threshold` of `value`."""
        if not self.size:
            return {}
        rows, distances = _scan(self._words[: self.size], value, threshold)
        found: dict[int, int] = {}
        for owner, distance in zip(self._owners[rows].tolist(), distances.tolist(), strict=True):
            found[owner] = min(distance, found.get(owner, distance))
        return found


class _Threshold:
    """One threshold for every row, as the index's brute force reads a bank's per row."""

    def __init__(self, value: int):
        self.value = value

    def __getitem__(self, rows) -> np.ndarray:
        return np.full(len(rows), self.value, np.int16)

    def max(self) -> int:
        return self.value


def _scan(words: np.ndarray, value: str, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, distances) of the hashes within `threshold` of `value`: the banks' brute force
    (moderation/banks/index.py), a block at a time (14 ms for a million hashes, where comparing
    all at once takes 70)."""
    return _within(words, _Threshold(threshold), threshold, bytes.fromhex(value), None)


def _distinct(frames: list[FrameHash]) -> list[str]:
    return [f.pdq for f in unique_frames(frames, QUALITY)]


_state = _MediaHashes()
_videos = _VideoFrames()
# A threaded server (runserver, the embedded mode's in-process jobs) may refresh the lists from
# two threads at once: one at a time, or both would add the same rows.
_refreshing = threading.RLock()


def forget_media_hashes() -> None:
    global _state, _videos
    _state = _MediaHashes()
    _videos = _VideoFrames()


def warm_media_hashes() -> None:
    """Read the media hashed since this process last looked (a worker does it before it forks a
    job, so no job re-reads every media received: config/worker.py). The assignment itself reads
    again under the lock."""
    _refresh()
    _refresh_videos()


def _refresh_videos() -> None:
    with _refreshing:
        _refresh_videos_now()


def _refresh_videos_now() -> None:
    rows = VideoHash.objects.filter(media__hashed_at__isnull=False).exclude(frames="")
    if _videos.loaded_until is not None:
        rows = rows.filter(media__hashed_at__gte=_videos.loaded_until)
    # One video at a time: an hour at one frame a second is 3,600 lines of text.
    last = None
    for media_id, text, hashed_at in (
        rows.order_by("media__hashed_at")
        .values_list("media_id", "frames", "media__hashed_at")
        .iterator(chunk_size=200)
    ):
        _videos.add(media_id, _distinct(frames_from_text(text)))
        last = hashed_at
    if last is not None:
        _videos.loaded_until = last


def _refresh() -> None:
    with _refreshing:
        _refresh_now()


def _refresh_now() -> None:
    rows = Media.objects.filter(pdq_quality__gte=MIN_PDQ_QUALITY).exclude(pdq="")
    if _state.loaded_until is not None:
        # A little overlap: rows committed with an earlier timestamp than the last one seen.
        rows = rows.filter(hashed_at__gte=_state.loaded_until)
    rows = list(rows.order_by("hashed_at").values_list("pk", "pdq", "hashed_at"))
    if rows:
        _state.add([(pk, pdq) for pk, pdq, _ in rows])
        _state.loaded_until = rows[-1][2]


def media_near(pdq: str, threshold: int = PDQ_THRESHOLD) -> list[tuple[int, int, str]]:
    """Hashed media whose PDQ is within `threshold` of `pdq` (lower-case hex), or a hashed
    video with a frame that is: (media id, distance, "pdq" or "vpdq"), closest first. Read from
    the lists clustering keeps, brought up to date first (two queries; the first time in a
    process, every hashed media's PDQ and every hashed video's frames, then only what was hashed
    since). Media whose PDQ is too weak to match on (quality below MIN_PDQ_QUALITY) are not in
    them, as they are not matched against the banks either."""
    with _refreshing:
        _refresh_now()
        _refresh_videos_now()
        images, videos = _state.within(pdq, threshold), _videos.within(pdq, threshold)
    found = [(pk, d, "pdq") for pk, d in images.items()]
    found += [(pk, d, "vpdq") for pk, d in videos.items() if pk not in images]
    return sorted(found, key=lambda row: (row[1], row[0]))


def cluster_lock() -> None:
    """Serialise the commit of hashed media. Take it, then set `hashed_at`, in the transaction
    that stores the hashes: `hashed_at` order is then commit order, so `_refresh` never skips a
    media committed late with an early timestamp."""
    ClusterLock.objects.select_for_update().get_or_create(pk=1)


@in_transaction
def media_assign_cluster(*, media, variants: list[str]) -> Cluster | None:
    """Put a freshly hashed media file in the cluster of its near-duplicates, starting one if it
    has any and none is clustered yet, merging clusters it bridges. Call inside the hashing
    transaction, after cluster_lock(); returns the media's cluster, or None when it has no
    near-duplicate."""

    if not variants or (media.pdq_quality or 0) < MIN_PDQ_QUALITY:
        return None
    _refresh()
    return _join(media, _state.near(variants, PDQ_THRESHOLD) - {media.pk})


@in_transaction
def media_assign_video_cluster(*, media, frames: list[FrameHash]) -> Cluster | None:
    """As media_assign_cluster, for a freshly hashed video and its vPDQ frames."""
    hexes = _distinct(frames)
    if not hexes:
        return None
    _refresh_videos()
    return _join(media, _videos.near(hexes, DISTANCE, COMPARED_PERCENT) - {media.pk})


def _join(media, near: set[int]) -> Cluster | None:
    """Put `media` in one cluster with its near-duplicates `near`: the oldest of their
    clusters, merging the others into it (the new media bridges them), or a new one."""
    if not near:
        return None
    members = list(Media.objects.filter(pk__in=near).values_list("pk", "cluster_id"))
    clusters = sorted({c for _, c in members if c is not None})
    if clusters:
        cluster = Cluster.objects.get(pk=clusters[0])
        if len(clusters) > 1:
            Media.objects.filter(cluster_id__in=clusters[1:]).update(cluster=cluster)
            Cluster.objects.filter(pk__in=clusters[1:]).delete()
    else:
        cluster = Cluster.objects.create()
    Media.objects.filter(pk__in=[pk for pk, c in members if c != cluster.pk]).update(
        cluster=cluster
    )
    media.cluster = cluster
    Media.objects.filter(pk=media.pk).update(cluster=cluster)
    return cluster
