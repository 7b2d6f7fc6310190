"""vPDQ values: frame hashes, their formats, and the reference comparison between two videos.

Formats: the reference tool's per-frame lines (`frame,quality,pdq,timestamp`, how Vigil stores a
video's hash), and python-threatexchange's vPDQ signal string (a JSON list of
`"pdq,quality,timestamp"` strings, how hash lists carry a video: import, export, exchanges).

The comparison is the reference's (facebook/ThreatExchange `vpdq/README.md`): each video's frames
as a set of unique PDQ hashes, those below the quality filter left out; a frame matches when some
frame of the other video is within the distance; the share of each side's frames that match,
as percentages. `compare` does it by brute force: the truth the indexed matching is tested against.
"""

import json
import math
from dataclasses import dataclass

PDQ_HEX = 64
# The reference's defaults (python-threatexchange's vpdq_util and the README's example).
DISTANCE = 31
QUALITY = 50
QUERY_PERCENT = 0.0
COMPARED_PERCENT = 80.0


class MalformedVpdq(ValueError):
    pass


@dataclass(frozen=True)
class FrameHash:
    frame: int
    timestamp: float
    quality: int
    pdq: str

    def as_dict(self) -> dict:
        return {
            "frame": self.frame,
            "timestamp": self.timestamp,
            "quality": self.quality,
            "pdq": self.pdq,
        }


def _check(pdq: str, quality: int, timestamp: float) -> None:
    if len(pdq) != PDQ_HEX or any(c not in "0123456789abcdef" for c in pdq):
        raise MalformedVpdq(f"a frame's PDQ is {PDQ_HEX} hex digits, not {pdq[:80]!r}")
    if not 0 <= quality <= 100:
        raise MalformedVpdq(f"a frame's quality is 0 to 100, not {quality}")
    if not math.isfinite(timestamp) or timestamp < 0:
        raise MalformedVpdq(f"a frame's timestamp is seconds from the start, not {timestamp}")


def sampling_interval(seconds_per_hash: float, frame_rate: float | None) -> float:
    """Seconds between hashed frames: the reference hashes frame n when n % int(S * F) == 0."""
    rate = frame_rate or 1.0
    return max(1, int(seconds_per_hash * rate)) / rate


def frames_to_text(frames: list[FrameHash]) -> str:
    return "".join(f"{f.frame},{f.quality},{f.pdq},{f.timestamp:.3f}\n" for f in frames)


def frames_from_text(text: str) -> list[FrameHash]:
    frames = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            frame, quality, pdq, timestamp = line.split(",")
            f = FrameHash(int(frame), float(timestamp), int(quality), pdq.strip().lower())
        except ValueError:
            raise MalformedVpdq(
                f"not a frame line (frame,quality,pdq,timestamp): {line[:80]!r}"
            ) from None
        _check(f.pdq, f.quality, f.timestamp)
        frames.append(f)
    return frames


def to_signal(frames: list[FrameHash]) -> str:
    """python-threatexchange's vPDQ signal string (compact JSON, as its CSV and line formats
    carry it)."""
    return json.dumps(
        [f"{f.pdq},{f.quality},{f.timestamp:.3f}" for f in frames], separators=(",", ":")
    )


def from_signal(signal: str) -> list[FrameHash]:
    """The frames of a vPDQ signal string (frame numbers are not carried: their order)."""
    try:
        items = json.loads(signal)
    except (ValueError, RecursionError):
        raise MalformedVpdq(
            'a vPDQ signal is a JSON list of "pdq,quality,timestamp" strings'
        ) from None
    if not isinstance(items, list) or not items:
        raise MalformedVpdq("a vPDQ signal is a non-empty JSON list of frames")
    frames = []
    for n, item in enumerate(items):
        if not isinstance(item, str):
            raise MalformedVpdq(f'frame {n}: a "pdq,quality,timestamp" string, not {item!r}'[:120])
        try:
            pdq, quality, timestamp = item.split(",")
            f = FrameHash(n, float(timestamp), int(quality), pdq.strip().lower())
        except ValueError:
            raise MalformedVpdq(f'frame {n}: not "pdq,quality,timestamp": {item[:80]!r}') from None
        _check(f.pdq, f.quality, f.timestamp)
        frames.append(f)
    return frames


def unique_frames(frames: list[FrameHash], quality: int) -> list[FrameHash]:
    """The frames the comparison counts: the first of each distinct PDQ, kept if at or above
    `quality` (deduplicated, then filtered, as python-threatexchange's matcher does)."""
    seen, kept = set(), []
    for f in frames:
        if f.pdq not in seen:
            seen.add(f.pdq)
            if f.quality >= quality:
                kept.append(f)
    return kept


def compare(
    query: list[FrameHash],
    compared: list[FrameHash],
    *,
    distance: int = DISTANCE,
    quality: int = QUALITY,
) -> tuple[float, float]:
    """(query match %, compared match %) by the reference algorithm, by brute force. A side with
    no frame left after the quality filter matches nothing (0, 0), as the reference says."""
    q = unique_frames(query, quality)
    c = unique_frames(compared, quality)
    if not q or not c:
        return 0.0, 0.0
    qv = [int(f.pdq, 16) for f in q]
    cv = [int(f.pdq, 16) for f in c]
    q_hit = sum(any((a ^ b).bit_count() <= distance for b in cv) for a in qv)
    c_hit = sum(any((a ^ b).bit_count() <= distance for a in qv) for b in cv)
    return q_hit * 100.0 / len(q), c_hit * 100.0 / len(c)


def is_match(
    percents: tuple[float, float],
    *,
    query_percent: float = QUERY_PERCENT,
    compared_percent: float = COMPARED_PERCENT,
) -> bool:
    q, c = percents
    return (q > 0 or c > 0) and q >= query_percent and c >= compared_percent
