"""Checking incoming videos and hashing them with vPDQ, as Meta's reference defines it.

vPDQ (facebook/ThreatExchange, `vpdq/README.md`) is the PDQ hash of a video's frames, each with its
frame number, timestamp and quality. Frames are decoded in order and converted to 8-bit RGB at
their own size by FFmpeg's swscale (through PyAV), then hashed with PDQ, exactly as the reference's
`vpdq-hash-video` does: tests/reports/test_vpdq_conformance.py checks every frame of the sample
videos against the reference's output. Sampling follows the reference too: with S seconds per
hash and a frame rate F, frame n is hashed when n % int(S * F) == 0 (S = 0: every frame).
Rotation metadata is recorded, not applied: the reference hashes pixels as stored.

Everything here is bounded: the dimensions of every frame (FFmpeg's own `max_pixels` guard, so a
frame too large is never allocated, not even while FFmpeg probes the file as it opens it), the
number of frames decoded and the seconds of video hashed, whatever the container claims; a file
that stops decoding part-way, or ends (truncated) well before the duration its container states,
keeps the frames hashed before the damage and says where it stopped.
"""

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import PurePath

import av
import numpy as np
import pdqhash
from av.video.reformatter import VideoReformatter
from django.conf import settings

from reports.vpdq import sampling_interval

# PyAV's name for a demuxer -> what we accept it as. MP4 and QuickTime share a demuxer (told
# apart by the file's brand), as do Matroska and WebM (by the EBML document type).
CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "matroska,webm": "matroska",
    "avi": "avi",
}
MIMES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "matroska": "video/x-matroska",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
}
EXTENSIONS = {
    "mp4": {".mp4", ".m4v"},
    "mov": {".mov", ".qt"},
    "matroska": {".mkv"},
    "webm": {".webm"},
    "avi": {".avi"},
}
LABELS = "MP4, MOV, WebM, MKV or AVI"
# FFmpeg opens still images too, as one-frame videos (its image demuxers: png_pipe, jpeg_pipe, ...,
# image2, gif): a picture is not a video, whatever it is called.
IMAGE_DEMUXERS = re.compile(r"_pipe$|^image2(pipe)?$|^gif$|^apng$")
# So are HEIF and AVIF pictures (phones' photos), MP4 files by their boxes, told apart by the
# brand: hashed as one-frame videos they would never meet the image banks.
PICTURE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
PICTURE_BRANDS |= {b"avif", b"avis"}
# Where a decoded video may fall short of the duration its container states before we call the
# file truncated: rounding, a last frame shown longer than the rest, and containers that count a
# little differently are no damage.
SHORT_BY_SECONDS = 1.0


class VideoRejected(Exception):
    """A video we will not accept, with an HTTP status, a machine code and words for people."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class NotAVideo(Exception):
    """FFmpeg does not recognise the bytes as any video container we accept."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (and its first frame confirms)."""

    container: str  # mp4, mov, webm, matroska, avi
    codec: str  # FFmpeg's decoder name: h264, hevc, vp9, av1, mpeg4, ...
    width: int
    height: int
    # Seconds, as the container states it (None when it does not).
    duration: float | None
    frame_rate: float | None
    # Degrees clockwise the player turns the picture (display matrix), recorded, not applied.
    rotation: int
    pixel_format: str
    has_audio: bool

    @property
    def mime(self) -> str:
        return MIMES[self.container]


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


@dataclass
class VideoHashes:
    info: VideoInfo
    frames: list[FrameHash] = field(default_factory=list)
    # Frames decoded (hashed or not) and the last one's end, in seconds.
    frames_decoded: int = 0
    duration: float = 0.0
    seconds_per_hash: float = 1.0
    prune_distance: int | None = None
    # Why hashing stopped before the end of the file ("" when it reached the end).
    stopped: str = ""

    @property
    def interval(self) -> float:
        """Seconds between hashed frames (before pruning)."""
        return sampling_interval(self.seconds_per_hash, self.info.frame_rate)


def _limits() -> tuple[int, int, float]:
    return (
        settings.MAX_VIDEO_PIXELS,
        settings.MAX_VIDEO_FRAMES,
        float(settings.MAX_VIDEO_SECONDS),
    )


def _open(source, head: bytes):
    """The container, or NotAVideo / VideoRejected for what FFmpeg cannot open."""
    if head[4:8] == b"ftyp" and head[8:12] in PICTURE_BRANDS:
        raise NotAVideo()
    try:
        # max_pixels here reaches the decoders FFmpeg runs while it probes the streams
        # (avformat_find_stream_info decodes H.264 frames, for one, before we see any dimension).
        container = av.open(
            source,
            mode="r",
            metadata_errors="ignore",
            options={"max_pixels": str(settings.MAX_VIDEO_PIXELS)},
        )
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        if _looks_like_ours(head):
            # One of our containers by its first bytes that FFmpeg cannot open: damaged, most
            # often cut short (an MP4 whose index, the moov box, was to come at the end).
            raise VideoRejected(
                "corrupt_video", "the video is damaged or incomplete (it does not open).", 422
            ) from None
        raise NotAVideo() from None
    if IMAGE_DEMUXERS.search(container.format.name):
        container.close()
        raise NotAVideo()
    return container


def _looks_like_ours(head: bytes) -> bool:
    """Whether the first bytes are those of an MP4/QuickTime, Matroska/WebM or AVI file."""
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide")
        or head[:4] == b"\x1a\x45\xdf\xa3"  # EBML
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    )


def _container_name(container, head: bytes) -> str | None:
    kind = CONTAINERS.get(container.format.name)
    if kind == "mp4":
        # The brand: "qt  " is QuickTime; everything else in this family is MP4 (or 3GP, M4V).
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if kind == "matroska":
        return "webm" if b"webm" in head[:64] else "matroska"
    return kind


def _rotation(first_frame) -> int:
    # FFmpeg gives the display matrix's angle counter-clockwise (-90 for a phone's portrait video,
    # which players turn 90 degrees clockwise); we record it clockwise.
    angle = getattr(first_frame, "rotation", 0) if first_frame is not None else 0
    try:
        return int(round(-float(angle or 0))) % 360
    except (TypeError, ValueError):
        return 0


def _frame_rate(stream) -> float | None:
    # The reference's choice: the average frame rate, else the lowest rate that represents every
    # timestamp (r_frame_rate, PyAV's base_rate).
    for rate in (stream.average_rate, stream.base_rate, stream.guessed_rate):
        if rate and rate.numerator and rate.denominator:
            value = float(rate)
            if math.isfinite(value) and value > 0:
                return value
    return None


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base:
        value = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        value = container.duration / av.time_base
    else:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _stated_video_seconds(container, stream) -> float | None:
    """How long the container says the video stream itself is: its own duration; else Matroska's
    DURATION tag for the track (FFmpeg and mkvmerge write one); else the file's duration when the
    video is its only stream (a file's duration covers its longest stream, audio included)."""
    if stream.duration is not None and stream.time_base:
        value = float(stream.duration * stream.time_base)
    elif match := re.fullmatch(
        r"(\d+):(\d\d):(\d\d(?:\.\d+)?)\x00*", str(stream.metadata.get("DURATION", ""))
    ):
        hours, minutes, seconds = match.groups()
        value = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    elif len(container.streams) == 1 and container.duration is not None:
        value = container.duration / av.time_base
    else:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _video_stream(container):
    """The video to check and hash: the first video stream that is not an attached picture (the
    cover art of an MP4 or an audio file, which FFmpeg lists as a one-frame video stream)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _minutes(seconds: float) -> str:
    """Minutes for people, to the hundredth and rounded up: "180", "180.02", "0.5" (whole minutes
    made a 30-second limit "0 minutes", and a video a little over a limit read as the limit)."""
    hundredths = math.ceil(round(seconds / 60 * 100, 6))
    return f"{hundredths / 100:.2f}".rstrip("0").rstrip(".")


def _guard(stream, max_pixels: int) -> None:
    """Let FFmpeg refuse frames over max_pixels before it allocates them, and decode with the
    threads the settings allow."""
    context = stream.codec_context
    context.options = {**context.options, "max_pixels": str(max_pixels)}
    context.thread_type = "AUTO"
    context.thread_count = settings.VIDEO_DECODE_THREADS


def probe(source, *, head: bytes) -> VideoInfo:
    """Check a video: a container we accept with a video stream whose first frame decodes, within
    the dimension and duration limits. `head`: the file's first bytes (to tell MP4 from MOV).
    Raises NotAVideo when FFmpeg does not recognise it at all, VideoRejected for a video we refuse."""
    max_pixels, _, max_seconds = _limits()
    container = _open(source, head)
    with container:
        name = _container_name(container, head)
        if name is None:
            raise VideoRejected(
                "unsupported_video_type",
                f"{container.format.long_name} files are not accepted; send {LABELS}.",
                415,
            )
        stream = _video_stream(container)
        if stream is None:
            kind = "audio only" if container.streams.audio else "no video stream"
            raise VideoRejected("no_video_stream", f"the file has no video ({kind}).", 422)
        if stream.codec_context is None:
            # The container names a codec FFmpeg has no decoder for (PyAV leaves no context).
            raise VideoRejected(
                "unsupported_video_type", "the video's codec is not one we can decode.", 415
            )
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            # FFmpeg's probe decoders leave them 0 when they refused a frame over max_pixels (as
            # for an AVI's MPEG-4): what does the container itself state?
            width, height = _stated_dimensions(source)
            if width * height <= max_pixels:
                raise VideoRejected("corrupt_video", "the video's dimensions are missing.", 422)
        if width * height > max_pixels:
            raise VideoRejected(
                "video_too_large",
                f"{width}x{height} is too many pixels a frame to process safely "
                f"(over {max_pixels:,}).",
                413,
            )
        duration = _duration(container, stream)
        if duration is not None and duration > max_seconds:
            raise VideoRejected(
                "video_too_long",
                f"the video is {_minutes(duration)} minutes long; at most "
                f"{_minutes(max_seconds)} minutes are accepted.",
                413,
            )
        _guard(stream, max_pixels)
        first = _first_frame(container, stream)
        return VideoInfo(
            container=name,
            # The codec's own name (av1), not the decoder's that FFmpeg picked (libdav1d).
            codec=stream.codec_context.codec.canonical_name,
            width=first.width,
            height=first.height,
            duration=duration,
            frame_rate=_frame_rate(stream),
            rotation=_rotation(first),
            pixel_format=first.format.name,
            has_audio=bool(container.streams.audio),
        )


def _stated_dimensions(source) -> tuple[int, int]:
    """The video's dimensions as its container states them, read again without FFmpeg decoding
    a frame to find them (no decoder is allowed while it probes)."""
    if not isinstance(source, (str, PurePath)):
        source.seek(0)
    try:
        with av.open(
            source, mode="r", metadata_errors="ignore", options={"codec_whitelist": "none"}
        ) as container:
            stream = _video_stream(container)
            if stream is None or stream.codec_context is None:
                return 0, 0
            return stream.codec_context.width, stream.codec_context.height
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return 0, 0


def _first_frame(container, stream):
    try:
        for frame in container.decode(stream):
            return frame
    except (av.error.FFmpegError, ValueError) as e:
        raise VideoRejected(
            "corrupt_video", f"the video does not decode ({_ffmpeg_reason(e)}).", 422
        ) from None
    raise VideoRejected("corrupt_video", "the video has no frames that decode.", 422)


def _ffmpeg_reason(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text[:120]


def sniff_extension_mismatch(info: VideoInfo, filename: str) -> bool:
    extension = PurePath(filename).suffix.lower()
    if not extension:
        return False
    accepted = set(EXTENSIONS[info.container])
    # MP4 and QuickTime are one family, as are Matroska and WebM: a .mov holding MP4 is no lie.
    for family in (("mp4", "mov"), ("matroska", "webm")):
        if info.container in family:
            accepted = set().union(*(EXTENSIONS[c] for c in family))
    return extension not in accepted


def inspect_video_bytes(data: bytes) -> VideoInfo:
    return probe(io.BytesIO(data), head=data[:64])


def _pdq_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def vpdq_hash(
    path,
    *,
    seconds_per_hash: float | None = None,
    prune_distance: int | None = None,
    stills=None,
) -> VideoHashes:
    """The vPDQ of the video at `path` (a file name or a binary file object).

    `seconds_per_hash`: 0 hashes every frame; None takes the settings' (one a second by default).
    `prune_distance`: leave out frames within this PDQ distance of the last one kept (the
    reference README's optional pruning); None takes the settings' (off by default).
    `stills`: a reports.thumbnails.StillPicker, offered every frame decoded (the case page's
    strip, made in the same pass).
    Raises NotAVideo / VideoRejected as `probe` does, before any frame is hashed."""
    if seconds_per_hash is None:
        seconds_per_hash = settings.VPDQ_SECONDS_PER_HASH
    if prune_distance is None:
        prune_distance = settings.VPDQ_PRUNE_DISTANCE
    if isinstance(path, (str, PurePath)):
        with open(path, "rb") as f:
            head = f.read(64)
    else:
        head = path.read(64)
        path.seek(0)
    info = probe(path, head=head)
    if not isinstance(path, (str, PurePath)):
        path.seek(0)
    result = VideoHashes(
        info=info,
        seconds_per_hash=seconds_per_hash,
        prune_distance=prune_distance if prune_distance and prune_distance > 0 else None,
    )
    _, max_frames, max_seconds = _limits()
    rate = info.frame_rate or 1.0
    every = max(1, int(seconds_per_hash * rate))
    last_kept = None
    # Where the last frame decoded ends, by its own duration where it has one (for telling a file
    # cut short from one whose last frame is shown longer).
    end = 0.0
    container = _open(path, head)
    # One converter for the whole video, on this thread (a frame's own to_ndarray makes a new one,
    # with threads of its own, for every frame: measured by bench/video_hashing.py).
    reformatter = VideoReformatter()
    with container:
        stream = _video_stream(container)
        stated = _stated_video_seconds(container, stream)
        _guard(stream, settings.MAX_VIDEO_PIXELS)
        start = stream.start_time
        if stills is not None:
            stills.begin(info.duration, stream.codec_context.sample_aspect_ratio)
        number = -1
        try:
            for frame in container.decode(stream):
                number += 1
                timestamp = _timestamp(frame, start, number, rate)
                result.frames_decoded = number + 1
                result.duration = max(result.duration, timestamp + 1.0 / rate)
                end = max(end, timestamp + _frame_seconds(frame, rate))
                if number >= max_frames:
                    result.stopped = f"more than {max_frames:,} frames; hashed the first ones"
                    break
                if timestamp > max_seconds:
                    result.stopped = (
                        f"longer than {_minutes(max_seconds)} minutes; hashed the first "
                        f"{_minutes(max_seconds)}"
                    )
                    break
                if stills is not None:
                    stills.offer(frame, timestamp, rate)
                if number % every:
                    continue
                rgb = reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()
                if rgb.shape[0] < 5 or rgb.shape[1] < 5:
                    # The reference's minimum: smaller frames get an empty hash of quality 0.
                    pdq, quality = "0" * 64, 0
                else:
                    bits, quality = pdqhash.compute(rgb)
                    pdq = _pdq_hex(bits)
                del rgb
                if (
                    result.prune_distance is not None
                    and last_kept is not None
                    and _hamming(pdq, last_kept) <= result.prune_distance
                ):
                    continue
                last_kept = pdq
                result.frames.append(FrameHash(number, round(timestamp, 3), int(quality), pdq))
        except (av.error.FFmpegError, ValueError) as e:
            # Damage part-way: keep what was hashed before it, and say where it stopped.
            result.stopped = f"stopped decoding at frame {number + 1:,}: {_ffmpeg_reason(e)}"
    if not result.stopped and stated is not None and end < stated - SHORT_BY_SECONDS:
        # FFmpeg reads a file cut short as one that ends there: no error, just fewer frames.
        result.stopped = (
            f"the file ends after {end:.1f} of the {stated:.1f} seconds its container states "
            "(truncated or damaged); hashed the frames before"
        )
    result.duration = round(
        max(result.duration, info.duration or 0.0) if not result.stopped else result.duration,
        3,
    )
    return result


def _frame_seconds(frame, rate: float) -> float:
    """How long a frame is shown: its own duration where it has one, else one frame at the rate."""
    if frame.duration and frame.time_base:
        value = float(frame.duration * frame.time_base)
        if math.isfinite(value) and value > 0:
            return value
    return 1.0 / rate


def _timestamp(frame, start, number: int, rate: float) -> float:
    """Seconds from the stream's start: the frame's own presentation time where it has one (right
    for variable frame rates too), else its number over the frame rate (the reference's)."""
    if frame.pts is not None and frame.time_base:
        offset = frame.pts - (start or 0)
        value = float(offset * frame.time_base)
        if math.isfinite(value) and value >= 0:
            return value
    return number / rate
