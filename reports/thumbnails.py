"""A video's keyframe strip: a few small stills at evenly spaced times, for a reviewer to judge a
video without playing it.

`keyframe_strip` seeks to the keyframe at or before each of `count` evenly spaced times and
decodes forward to the first frame at that time (decoding on from the last still instead of
seeking when the next time is close, so a short video is read once, front to back). Each still
is scaled by FFmpeg's swscale straight to thumbnail size (a frame is never converted at full
size), turned as a player turns it (the rotation metadata, which hashing records and does not
apply), and carries the time of the frame actually shown.

`StillPicker` makes the same strip from a pass that decodes every frame anyway: the hashing job
offers it each frame, so a video is decoded once for its vPDQ and its stills (keyframe_strip is
for a video whose strip was not made then: received before strips, or whose stills were lost).

Bounded like hashing (reports/video.py, whose open and pixel guards it uses): FFmpeg refuses
frames over MAX_VIDEO_PIXELS before allocating them, frames decoded and seconds spent are capped,
and only the thumbnails are kept. A damaged file gives the stills that decode and says where it
stopped; the only exception out of here is StripFailed, for a file that does not open as a video.
"""

import io
import math
import time
from dataclasses import dataclass, field

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from django.conf import settings
from PIL import Image

from reports.video import (
    NotAVideo,
    VideoRejected,
    _duration,
    _ffmpeg_reason,
    _guard,
    _open,
    _rotation,
    _video_stream,
)

# Stills per strip, and their size: at most this wide and this tall, aspect kept.
STRIP_FRAMES = 16
THUMB_WIDTH = 160
THUMB_MAX_HEIGHT = 160
# The next still is reached by decoding on, rather than seeking, when it is this close.
FORWARD_SECONDS = 3.0
# Bounds for one strip, whatever the file: frames decoded in all, and wall-clock seconds.
MAX_DECODED_FRAMES = 3000
MAX_SECONDS = 60.0
JPEG_QUALITY = 80


def strip_storage_name(file_name: str) -> str:
    """Where a video file's strip is kept in private storage: beside nothing public, named after
    the video's own stored name (so the same bytes share one strip, and whoever deletes the
    video can find its stills)."""
    return f"strips/{file_name}.jpg"


class StripFailed(Exception):
    """The file does not open as a video at all: no still can be made."""


@dataclass(frozen=True)
class Thumbnail:
    # Seconds from the start of the video stream, of the frame shown.
    timestamp: float
    image: Image.Image = field(repr=False, compare=False)

    @property
    def jpeg(self) -> bytes:
        out = io.BytesIO()
        self.image.save(out, format="JPEG", quality=JPEG_QUALITY)
        return out.getvalue()


@dataclass
class Strip:
    thumbnails: list[Thumbnail] = field(default_factory=list)
    # Why fewer stills than asked for ("" when none were missed for damage or a limit).
    stopped: str = ""

    @property
    def timestamps(self) -> list[float]:
        return [t.timestamp for t in self.thumbnails]

    def sprite(self) -> tuple[bytes, int, int]:
        """All the stills side by side in one JPEG (one request for the page), each centred in
        a tile the size of the largest: (JPEG bytes, tile width, tile height)."""
        if not self.thumbnails:
            raise ValueError("no thumbnails to put in a sprite")
        tile_w = max(t.image.width for t in self.thumbnails)
        tile_h = max(t.image.height for t in self.thumbnails)
        sheet = Image.new("RGB", (tile_w * len(self.thumbnails), tile_h), (0, 0, 0))
        for i, thumb in enumerate(self.thumbnails):
            left = i * tile_w + (tile_w - thumb.image.width) // 2
            sheet.paste(thumb.image, (left, (tile_h - thumb.image.height) // 2))
        out = io.BytesIO()
        sheet.save(out, format="JPEG", quality=JPEG_QUALITY)
        return out.getvalue(), tile_w, tile_h


def targets(duration: float | None, count: int) -> list[float]:
    """Evenly spaced times from the start: the first frame, then every duration/count seconds.
    Without a duration, one a second (the strip then covers the first `count` seconds)."""
    if duration is None or not math.isfinite(duration) or duration <= 0:
        return [float(i) for i in range(count)]
    return [round(duration * i / count, 3) for i in range(count)]


def thumb_size(width: int, height: int, rotation: int, sar: float = 1.0) -> tuple[int, int]:
    """The thumbnail's size as a player shows the frame (rotated, sample aspect applied),
    scaled to THUMB_WIDTH wide or THUMB_MAX_HEIGHT tall, whichever comes first."""
    shown_w, shown_h = width * (sar if sar > 0 else 1.0), float(height)
    if rotation in (90, 270):
        shown_w, shown_h = shown_h, shown_w
    scale = min(THUMB_WIDTH / shown_w, THUMB_MAX_HEIGHT / shown_h)
    return max(1, round(shown_w * scale)), max(1, round(shown_h * scale))


def keyframe_strip(
    source,
    *,
    duration: float | None = None,
    count: int = STRIP_FRAMES,
    max_frames: int = MAX_DECODED_FRAMES,
    max_seconds: float = MAX_SECONDS,
) -> Strip:
    """The strip of a video file (a name or a binary file object, read from its start).
    `duration`: seconds, when known better than the container says (decoded at hashing).
    Raises StripFailed when the file does not open as a video; anything else comes back as a
    strip with the stills it could make and `stopped` saying why it has no more."""
    if hasattr(source, "seek"):
        source.seek(0)
        head = source.read(64)
        source.seek(0)
    else:
        with open(source, "rb") as f:
            head = f.read(64)
    try:
        container = _open(source, head)
    except NotAVideo:
        raise StripFailed("not a video FFmpeg can read") from None
    except VideoRejected as e:
        raise StripFailed(e.message) from None
    try:
        with container:
            stream = _video_stream(container)
            if stream is None or stream.codec_context is None:
                raise StripFailed("the file has no video stream we can decode")
            _guard(stream, settings.MAX_VIDEO_PIXELS)
            stated = _duration(container, stream)
            times = targets(duration or stated, count)
            return _Reader(container, stream, max_frames, max_seconds).read(times)
    except StripFailed:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        # Closing a damaged container, or anything FFmpeg says outside a decode.
        raise StripFailed(f"the video does not decode ({_ffmpeg_reason(e)})") from None


class _Reader:
    """One pass over the targets, seeking or decoding on, within the bounds."""

    def __init__(self, container, stream, max_frames: int, max_seconds: float):
        self.container, self.stream = container, stream
        self.max_frames, self.deadline = max_frames, time.monotonic() + max_seconds
        self.decoded = 0
        self.frames = None  # the decode generator, from where the last still was found
        self.last = None  # time of the last frame decoded from it
        self.reformatter = VideoReformatter()
        sar = stream.codec_context.sample_aspect_ratio
        self.sar = float(sar) if sar else 1.0
        self.start = stream.start_time or 0
        self.rate = float(stream.average_rate or stream.guessed_rate or 30)

    def read(self, times: list[float]) -> Strip:
        strip = Strip()
        for target in times:
            if self.decoded >= self.max_frames or time.monotonic() > self.deadline:
                strip.stopped = (
                    f"stopped at {target:.1f} s: the strip's limit of "
                    f"{self.max_frames:,} frames or {MAX_SECONDS:.0f} seconds was reached"
                )
                break
            try:
                frame = self._frame_at(target)
            except (av.error.FFmpegError, ValueError, OSError) as e:
                # Damage here: note it, and try the next time from a fresh seek.
                self.frames, self.last = None, None
                strip.stopped = strip.stopped or (
                    f"no frame decodes at {target:.1f} s ({_ffmpeg_reason(e)})"
                )
                continue
            if frame is None:
                strip.stopped = strip.stopped or f"no frame at {target:.1f} s (the file ends)"
                continue
            seconds = self._seconds(frame)
            if seconds < target - max(1.0, 2 / self.rate):
                # The stream ended before this time (cut short, or shorter than stated).
                strip.stopped = strip.stopped or f"the video ends at {seconds:.1f} s"
            if strip.thumbnails and seconds <= strip.thumbnails[-1].timestamp:
                continue  # the same still again (keyframes far apart, or a short video)
            strip.thumbnails.append(Thumbnail(round(seconds, 3), self._image(frame)))
        return strip

    def _seconds(self, frame) -> float:
        if frame.pts is not None and frame.time_base:
            value = float((frame.pts - self.start) * frame.time_base)
            if math.isfinite(value):
                return max(0.0, value)
        return 0.0

    def _frame_at(self, target: float):
        """The first frame at or after `target` (within half a frame), from the keyframe before
        it; decoding on from the last still when it is near."""
        near = self.last is not None and self.last <= target <= self.last + FORWARD_SECONDS
        if self.frames is None or not near:
            self._seek(target)
        tolerance = 0.5 / self.rate
        frame = None
        for frame in self.frames:
            self.decoded += 1
            self.last = self._seconds(frame)
            if self.last >= target - tolerance:
                return frame
            if self.decoded >= self.max_frames or time.monotonic() > self.deadline:
                return frame  # the nearest one before the target we could afford
        self.frames = None
        return frame

    def _seek(self, target: float) -> None:
        if target > 0 or self.frames is not None:
            offset = int(target / float(self.stream.time_base)) + self.start
            self.container.seek(offset, stream=self.stream, backward=True, any_frame=False)
        self.frames = self.container.decode(self.stream)
        self.last = None

    def _image(self, frame) -> Image.Image:
        return thumbnail_image(self.reformatter, frame, self.sar)


def thumbnail_image(reformatter: VideoReformatter, frame, sar: float = 1.0) -> Image.Image:
    """A decoded frame as a still: scaled by swscale to the stored orientation's thumbnail
    size (never converted at full size), then turned as a player turns it."""
    rotation = _rotation(frame)
    w, h = thumb_size(frame.width, frame.height, rotation, sar)
    stored_w, stored_h = (h, w) if rotation in (90, 270) else (w, h)
    small = reformatter.reformat(
        frame, width=stored_w, height=stored_h, format="rgb24", interpolation="AREA", threads=1
    )
    image = Image.fromarray(np.ascontiguousarray(small.to_ndarray()))
    turn = {
        90: Image.Transpose.ROTATE_270,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_90,
    }
    return image.transpose(turn[rotation]) if rotation in turn else image


class StillPicker:
    """The strip taken from a pass that decodes every frame anyway (hashing): `begin` with the
    video's duration, then `offer` each decoded frame with its time; the first frame at or after
    each evenly spaced time becomes a still. Costs a few small conversions, no decoding of its
    own (keyframe_strip decodes the video a second time)."""

    def __init__(self, count: int = STRIP_FRAMES):
        self.count = count
        self.times: list[float] = []
        self.strip = Strip()
        self.reformatter = VideoReformatter()
        self.sar = 1.0

    def begin(self, duration: float | None, sample_aspect_ratio=None) -> None:
        self.times = targets(duration, self.count)
        self.sar = float(sample_aspect_ratio) if sample_aspect_ratio else 1.0

    def offer(self, frame, seconds: float, rate: float) -> None:
        if not self.times or seconds < self.times[0] - 0.5 / rate:
            return
        while self.times and seconds >= self.times[0] - 0.5 / rate:
            self.times.pop(0)  # every time this frame reaches (frames far apart: one still)
        self.strip.thumbnails.append(
            Thumbnail(round(seconds, 3), thumbnail_image(self.reformatter, frame, self.sar))
        )
