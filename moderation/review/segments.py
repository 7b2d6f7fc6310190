"""Where a video matched its banks, for the case page: the matched time ranges of its matches
(`Match.segments`, moderation/banks/video_matching.py) placed on a timeline, each with a text
saying which bank and entry it matched, and which of the strip's stills fall inside one.

Reads only the media's prefetched matches (selectors.case_media), so it costs no query.
"""

from dataclasses import dataclass

# A still this close to a matched range (seconds) is in it: ranges run between sampled frames'
# times, one a second by default, and a still is one frame of that second.
STILL_SLACK = 0.5
# Narrowest mark drawn on the timeline, in percent of its width (a one-frame match stays visible).
MIN_WIDTH_PERCENT = 0.8


def clock(seconds, *, tenths: bool = False) -> str:
    """Seconds as a player shows them: "0:07", "1:02:03"; with `tenths`, "0:07.4"."""
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    if tenths:
        text += f".{min(9, int(round((seconds - whole) * 10, 6)))}"
    return text


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    bank: str
    entry_id: int
    signal: str
    entry_start: float | None
    entry_end: float | None
    left: float  # percent of the timeline
    width: float

    @property
    def label(self) -> str:
        where = f"{clock(self.start)}–{clock(self.end)}"
        entry = f"entry {self.entry_id}"
        if self.entry_start is not None and self.entry_end is not None:
            entry += f" at {clock(self.entry_start)}–{clock(self.entry_end)}"
        return f"{where}: {self.bank}, {entry} ({self.signal})"

    def holds(self, seconds: float) -> bool:
        return self.start - STILL_SLACK <= seconds <= self.end + STILL_SLACK


@dataclass(frozen=True)
class Timeline:
    duration: float
    segments: list[Segment]

    def matched_at(self, seconds: float) -> list[Segment]:
        return [s for s in self.segments if s.holds(seconds)]


def video_timeline(*, duration: float | None, matches, stills: list[float] = ()) -> Timeline:
    """The matched ranges of a video's `matches` (with their entries' banks), in time order, on
    a timeline as long as the video (or as far as its matches and stills reach when its length
    is unknown)."""
    found = []
    for match in matches:
        for segment in match.segments or ():
            try:
                start, end = float(segment["start"]), float(segment["end"])
            except (KeyError, TypeError, ValueError):
                continue
            found.append((start, max(start, end), match, segment))
    duration = duration or max([end for _, end, _, _ in found] + list(stills) + [1.0], default=1.0)
    segments = [
        Segment(
            start=start,
            end=end,
            bank=match.entry.bank.name,
            entry_id=match.entry_id,
            signal=match.get_signal_type_display(),
            entry_start=segment.get("entry_start"),
            entry_end=segment.get("entry_end"),
            left=round(min(100.0, 100.0 * start / duration), 2),
            width=round(
                max(
                    MIN_WIDTH_PERCENT,
                    min(100.0 - 100.0 * start / duration, 100.0 * (end - start) / duration),
                ),
                2,
            ),
        )
        for start, end, match, segment in sorted(found, key=lambda f: (f[0], f[1]))
    ]
    return Timeline(duration=duration, segments=segments)
