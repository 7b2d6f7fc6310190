"""Matching videos, frame by frame: against vPDQ banks, against image banks, and images against
vPDQ banks' frames.

vPDQ entries are matched as Meta's reference compares two videos (reports/vpdq.py: unique frames
above the quality filter, a frame matching when a frame of the other video is within the
distance, the shares of each side's frames that match), with each bank's own distance, quality
filter and percentages. Not by comparing with every video: every bank video's frames are in one
frame index (moderation/banks/frame_index.py, exact, snapshotted at scale); each of the query
video's unique frames finds the bank frames within their bank's distance, which names the
candidate videos and, from the same hits, both shares. The result is exactly the reference's, by
brute force, for every entry (tests/moderation/banks/test_video_matching.py); bench/video_match.py
measures it at 100,000 videos.

Each hit also says where: the time ranges of the media, and of the entry's video, whose frames
matched (`segments`).
"""

from collections import defaultdict
from dataclasses import dataclass

from moderation.banks.frame_index import FrameIndex
from moderation.banks.models import MIN_PDQ_QUALITY
from reports.vpdq import FrameHash, is_match

# Matched frames closer than this many sampling intervals (and at least this many seconds) apart
# make one segment.
SEGMENT_GAP_INTERVALS = 1.5
SEGMENT_GAP_SECONDS = 1.0
# Segments recorded per match, at most (the longest first would hide nothing a reviewer needs:
# the strip marks them all up to this).
MAX_SEGMENTS = 50


@dataclass(frozen=True)
class VideoHit:
    entry_id: int
    distance: int
    segments: tuple[dict, ...]
    query_percent: float | None = None
    compared_percent: float | None = None
    variant: int | None = None


def _unique(frames: list[FrameHash]) -> dict[str, tuple[int, list[float]]]:
    """The query's distinct PDQs (the first occurrence's quality, as python-threatexchange
    dedupes before its quality filter) and every time each occurs."""
    unique: dict[str, tuple[int, list[float]]] = {}
    for f in frames:
        if f.pdq not in unique:
            unique[f.pdq] = (f.quality, [])
        unique[f.pdq][1].append(f.timestamp)
    return unique


def segments(pairs: list[tuple[float, float]], *, interval: float) -> tuple[dict, ...]:
    """Time ranges from matched (media time, entry time) pairs: media times closer than the gap
    make one range, with the entry times they matched. A range ends where its last matched
    frame's sampling interval ends (a video matched at every sampled frame is matched to its
    end, not to its last sample)."""
    if not pairs:
        return ()
    gap = max(SEGMENT_GAP_SECONDS, SEGMENT_GAP_INTERVALS * interval)
    pairs = sorted(pairs)
    found = []
    start, end = pairs[0][0], pairs[0][0]
    entry_times = [pairs[0][1]]
    for media_time, entry_time in pairs[1:]:
        if media_time - end > gap:
            found.append((start, end, entry_times))
            start, entry_times = media_time, []
        end = media_time
        entry_times.append(entry_time)
    found.append((start, end, entry_times))
    return tuple(
        {
            "start": round(s, 3),
            "end": round(e + interval, 3),
            "entry_start": round(float(min(t)), 3),
            "entry_end": round(float(max(t)), 3),
        }
        for s, e, t in found[:MAX_SEGMENTS]
    )


def match_video(frames: list[FrameHash], index: FrameIndex, *, interval: float) -> list[VideoHit]:
    """The vPDQ entries a video matches by the reference comparison, each at its bank's own
    distance, quality filter and percentages. `interval`: seconds between the query's sampled
    frames (for segments)."""
    unique = _unique(frames)
    if not len(index) or not unique:
        return []
    floor = min((p.quality for p in index.banks.values()), default=0)
    # entry -> [(query pdq, entry frame key, entry time, distance)]
    hits: dict[int, list[tuple[str, int, float, int]]] = defaultdict(list)
    for pdq, (quality, _times) in unique.items():
        if quality < floor:
            continue
        for entry, key, time, distance in index.query(pdq):
            hits[entry].append((pdq, key, time, distance))
    found = []
    for entry, pairs in hits.items():
        params = index.banks[index.bank_of(entry)]
        counted = [p for p in pairs if unique[p[0]][0] >= params.quality]
        if not counted:
            continue
        query_total = sum(1 for q, _ in unique.values() if q >= params.quality)
        query_share = len({p[0] for p in counted}) * 100.0 / query_total
        compared_share = len({p[1] for p in counted}) * 100.0 / index.unique_count(entry)
        if not is_match(
            (query_share, compared_share),
            query_percent=params.query_percent,
            compared_percent=params.compared_percent,
        ):
            continue
        times = [(t, entry_time) for pdq, _, entry_time, _ in counted for t in unique[pdq][1]]
        found.append(
            VideoHit(
                entry_id=entry,
                distance=min(p[3] for p in counted),
                segments=segments(times, interval=interval),
                query_percent=round(query_share, 2),
                compared_percent=round(compared_share, 2),
            )
        )
    return sorted(found, key=lambda h: (h.distance, h.entry_id))


def match_frames_in_image_index(
    frames: list[FrameHash], query, *, interval: float
) -> list[VideoHit]:
    """Image entries (PDQ) that any of the video's frames match: a known still inside a video.
    `query(pdq)` gives (entry id, distance) from the PDQ index. Frames below the PDQ quality
    floor are too weak to match on, as for images."""
    pairs: dict[int, list[tuple[float, float]]] = defaultdict(list)
    best: dict[int, int] = {}
    for pdq, (quality, times) in _unique(frames).items():
        if quality < MIN_PDQ_QUALITY:
            continue
        for entry_id, distance in query(pdq):
            best[entry_id] = min(distance, best.get(entry_id, distance))
            pairs[entry_id].extend((t, 0.0) for t in times)
    return [
        VideoHit(
            entry_id=entry,
            distance=best[entry],
            segments=tuple(
                {"start": s["start"], "end": s["end"]}
                for s in segments(pairs[entry], interval=interval)
            ),
        )
        for entry in sorted(best, key=lambda e: (best[e], e))
    ]


def match_image_in_frame_index(variants: list[str], index: FrameIndex) -> list[VideoHit]:
    """vPDQ entries with a frame the image matches (any of its rotations and mirror images,
    `variants`, the image itself first): a still taken from a known video."""
    best: dict[int, tuple[int, int]] = {}
    times_of: dict[int, list[float]] = defaultdict(list)
    for variant, pdq in enumerate(variants):
        for entry, _key, time, distance in index.query(pdq):
            times_of[entry].append(time)
            if entry not in best or distance < best[entry][0]:
                best[entry] = (distance, variant)
    found = []
    for entry, (distance, variant) in best.items():
        times = sorted(times_of[entry])
        found.append(
            VideoHit(
                entry_id=entry,
                distance=distance,
                variant=variant,
                segments=tuple(
                    {"entry_start": s["start"], "entry_end": s["end"]}
                    for s in segments([(t, t) for t in times], interval=0.0)
                ),
            )
        )
    return sorted(found, key=lambda h: (h.distance, h.entry_id))
