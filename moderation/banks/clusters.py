"""Near-duplicate clusters: media whose PDQ hashes are within the match threshold of each other.

Each process keeps an in-memory list of the PDQ hashes of hashed media, brought up to date from
the database (by `hashed_at`) under a lock before every assignment, so the media a worker hashes
are compared with every media any worker hashed before. Comparison is exact (XOR and popcount
against every hash), and covers rotations and mirror images through the new media's dihedral
variants.
"""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from lib.transactions import in_transaction
from moderation.banks.index import to_words
from moderation.banks.models import DEFAULT_THRESHOLDS, MIN_PDQ_QUALITY, Cluster, ClusterLock
from reports.models import Media

PDQ_THRESHOLD = DEFAULT_THRESHOLDS["pdq"]


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
        if needed > len(self._ids):
            capacity = max(needed, 2 * len(self._ids))
            self._ids = np.resize(self._ids, capacity)
            self._words = np.resize(self._words, (capacity, 4))
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


_state = _MediaHashes()


def forget_media_hashes() -> None:
    global _state
    _state = _MediaHashes()


def warm_media_hashes() -> None:
    """Read the media hashed since this process last looked (a worker does it before it forks a
    job, so no job re-reads every media received: config/worker.py). The assignment itself reads
    again under the lock."""
    _refresh()


def _refresh() -> None:
    rows = Media.objects.filter(pdq_quality__gte=MIN_PDQ_QUALITY).exclude(pdq="")
    if _state.loaded_until is not None:
        # A little overlap: rows committed with an earlier timestamp than the last one seen.
        rows = rows.filter(hashed_at__gte=_state.loaded_until)
    rows = list(rows.order_by("hashed_at").values_list("pk", "pdq", "hashed_at"))
    if rows:
        _state.add([(pk, pdq) for pk, pdq, _ in rows])
        _state.loaded_until = rows[-1][2]


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
    near = _state.near(variants, PDQ_THRESHOLD) - {media.pk}
    if not near:
        return None
    members = list(Media.objects.filter(pk__in=near).values_list("pk", "cluster_id"))
    clusters = sorted({c for _, c in members if c is not None})
    if clusters:
        cluster = Cluster.objects.get(pk=clusters[0])
        if len(clusters) > 1:
            # The new media bridges clusters: they are one group of near-duplicates.
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
