"""Test videos made at test time with PyAV's encoders (the FFmpeg inside its wheels).

Every picture is a synthetic pattern (a gradient that slides, a checkerboard that flips, a white
square that moves), so each frame has structure for PDQ and differs from the last. The files are
tiny: a few KB (tens for the lossless and RLE ones), milliseconds of CPU each. Besides well-made
videos there are helpers for damaged and unusual ones: audio only, cover art, no frames, an
unknown codec, a duration that lies, frames that grow mid-stream, a picture in an MP4 box.
"""

import io
import os
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Our names for containers -> FFmpeg's muxers.
MUXERS = {
    "mp4": "mp4",
    "mov": "mov",
    "webm": "webm",
    "mkv": "matroska",
    "matroska": "matroska",
    "avi": "avi",
    "m4a": "ipod",
    "mka": "matroska",
}
# An audio codec each container takes, for videos with sound.
AUDIO_CODECS = {
    "mp4": "aac",
    "mov": "aac",
    "webm": "libopus",
    "matroska": "aac",
    "avi": "pcm_s16le",
}
# Presentation times in milliseconds with variable frame rate: the gaps are 40 ms to 0.4 s.
VFR_MS = [0, 40, 90, 300, 310, 320, 700, 1000, 1033, 1500]


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """Frame `index` of the moving pattern, as an RGB array."""
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(width - 1, 1) + index * 8) % 256
    green = y * 255 // max(height - 1, 1)
    blue = ((x // 8 + y // 8 + index) % 2) * 255
    rgb = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    side = max(1, min(width, height) // 4)
    left = (index * 3) % max(1, width - side)
    rgb[height // 3 : height // 3 + side, left : left + side] = 255
    return rgb


def make_video(
    container: str = "mp4",
    codec: str = "libx264",
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 10,
    fps: int = 10,
    pix_fmt: str = "yuv420p",
    audio: bool = False,
    rotation: int | None = None,
    display_matrix: list[int] | None = None,
    vfr: bool = False,
    cover_art: bool = False,
    options: dict | None = None,
    container_options: dict | None = None,
    path: str | os.PathLike | None = None,
) -> bytes:
    """A video of the moving pattern, as the bytes of a file (also written to `path` if given:
    MP4's faststart needs a file it can rewrite).

    `rotation`: degrees clockwise a player should turn the picture (written as a display matrix;
    the pixels are stored unturned). `display_matrix`: the nine numbers themselves instead.
    `vfr`: frames at the irregular times of VFR_MS (so at most len(VFR_MS) frames).
    `cover_art`: an attached picture too (MP4/MOV cover art, a flat grey square), which FFmpeg
    lists as a video stream after the tracks."""
    muxer = MUXERS[container]
    target = str(path) if path is not None else io.BytesIO()
    with av.open(target, "w", format=muxer, options=container_options or {}) as out:
        cover = _add_cover_art(out) if cover_art else None
        stream = out.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if rotation is not None:
            # PyAV's angle is counter-clockwise (as FFmpeg reports it): negate ours.
            stream.set_display_rotation(-rotation)
        if display_matrix is not None:
            stream.set_display_matrix(display_matrix)
        times = VFR_MS[:frames] if vfr else list(range(frames))
        if vfr:
            stream.codec_context.time_base = Fraction(1, 1000)
        sound = out.add_stream(AUDIO_CODECS[muxer], rate=48000, layout="mono") if audio else None
        if cover is not None:
            _mux_cover_art(out, cover)
        for i, pts in enumerate(times):
            frame = av.VideoFrame.from_ndarray(pattern(i, width, height), format="rgb24")
            frame = frame.reformat(format=pix_fmt)
            frame.pts = pts
            if vfr:
                frame.time_base = Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if sound is not None:
            _mux_tone(out, sound, seconds=frames / fps)
    return Path(path).read_bytes() if path is not None else target.getvalue()


def make_audio(
    container: str = "m4a", codec: str = "aac", *, seconds: float = 0.5, cover_art: bool = False
) -> bytes:
    """An audio-only file: a quiet 440 Hz tone (with an MP4's cover art if `cover_art`)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=MUXERS[container]) as out:
        cover = _add_cover_art(out) if cover_art else None
        sound = out.add_stream(codec, rate=48000, layout="mono")
        if cover is not None:
            _mux_cover_art(out, cover)
        _mux_tone(out, sound, seconds=seconds)
    return buffer.getvalue()


def _mux_tone(out, stream, *, seconds: float) -> None:
    context = stream.codec_context
    size = context.frame_size or 1024
    samples = int(48000 * seconds)
    wave = 0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)
    for start in range(0, samples - size + 1, size):
        chunk = wave[start : start + size][None, :]
        if context.format.name == "s16":
            chunk = (chunk * 32767).astype(np.int16)
        else:
            chunk = chunk.astype(np.float32)
        frame = av.AudioFrame.from_ndarray(chunk, format=context.format.name, layout="mono")
        frame.sample_rate, frame.pts = 48000, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def _add_cover_art(out):
    stream = out.add_stream("mjpeg")
    stream.width, stream.height, stream.pix_fmt = 32, 32, "yuvj420p"
    stream.disposition = av.stream.Disposition.attached_pic
    return stream


def _mux_cover_art(out, stream) -> None:
    # A flat grey picture: unlike the video, nothing in it moves.
    frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 128, np.uint8), format="rgb24")
    frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    out.mux(stream.encode(frame) + stream.encode())


def make_empty_video(container: str = "avi", codec: str = "mpeg4") -> bytes:
    """A container with a video stream (its header written) and not one packet."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=MUXERS[container]) as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    return buffer.getvalue()


def make_resizing_webm(
    sizes: list[tuple[int, int]], *, frames_each: int = 5, claim: tuple[int, int] | None = None
) -> bytes:
    """A VP8 WebM whose frames change size: `frames_each` frames at each of `sizes` in turn, the
    container stating the first. `claim`: the last size's first keyframe instead states these
    dimensions, which are never encoded (VP8's header holds them in 14 bits each), so a decoder
    that believes it would allocate frames that large."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = *sizes[0], "yuv420p"
        shown = 0
        for n, (width, height) in enumerate(sizes):
            # A fresh encoder for each size: each starts with a keyframe stating its dimensions.
            encoder = av.CodecContext.create("libvpx", "w")
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
            encoder.time_base, encoder.framerate = Fraction(1, 10), 10
            packets = []
            for i in range(frames_each):
                frame = av.VideoFrame.from_ndarray(pattern(shown + i, width, height), "rgb24")
                frame = frame.reformat(format="yuv420p")
                frame.pts = i
                packets += encoder.encode(frame)
            packets += encoder.encode(None)
            if claim is not None and n == len(sizes) - 1:
                packets[0] = _vp8_claiming(packets[0], *claim)
            for packet in packets:
                packet.pts += shown
                packet.dts += shown
                packet.time_base, packet.stream = Fraction(1, 10), stream
                out.mux(packet)
            shown += frames_each
    return buffer.getvalue()


def _vp8_claiming(packet, width: int, height: int):
    data = bytearray(bytes(packet))
    # A VP8 keyframe: a 3-byte tag, the start code 9d 01 2a, then width and height (LE, 14 bits).
    at = data.index(b"\x9d\x01\x2a") + 3
    data[at : at + 4] = struct.pack("<HH", width, height)
    changed = av.Packet(bytes(data))
    changed.pts, changed.dts, changed.is_keyframe = packet.pts, packet.dts, True
    return changed


def claim_matroska_duration(data: bytes, seconds: float) -> bytes:
    """A Matroska file that states `seconds` as its duration, whatever its frames say: the
    segment's Duration (in the default millisecond timecode scale) and the tracks' DURATION tags
    are rewritten in place."""
    at = data.index(b"\x44\x89\x88") + 3  # Duration, an 8-byte float
    data = data[:at] + struct.pack(">d", seconds * 1000) + data[at + 8 :]
    hours, rest = divmod(seconds, 3600)
    tag = f"{int(hours):02d}:{int(rest // 60):02d}:{rest % 60:012.9f}".encode()
    start = 0
    while (start := data.find(b"DURATION", start)) >= 0:
        value = data.index(b"\x44\x87", start) + 2  # TagString: a size, then the text
        size = data[value] & 0x7F  # FFmpeg's: HH:MM:SS.nnnnnnnnn and a NUL
        assert len(tag) <= size
        data = data[: value + 1] + tag.ljust(size, b"\0") + data[value + 1 + size :]
        start = value
    return data


def with_unknown_codec(mkv: bytes) -> bytes:
    """An H.264 Matroska file whose track names a codec no decoder knows."""
    assert mkv.count(b"V_MPEG4/ISO/AVC") == 1
    return mkv.replace(b"V_MPEG4/ISO/AVC", b"V_VIGIL/UNKNOWN")


def make_avif() -> bytes:
    """An AVIF picture (an MP4-family file of one AV1 frame, as phones' HEIF photos are of HEVC)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="avif") as out:
        stream = out.add_stream("libsvtav1", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        frame = av.VideoFrame.from_ndarray(pattern(0, 64, 64), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = 0
        out.mux(stream.encode(frame) + stream.encode())
    return buffer.getvalue()


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pattern(0, width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def repeat_packets(source, times: int, target) -> None:
    """`source`'s video packets `times` times over in one MP4 at `target` (paths or file
    objects), each copy's timestamps shifted by the length of those before it: a long video in
    a moment (a remux: nothing decoded or encoded), whose decoding costs what a file that long
    costs. Only its pictures repeat."""

    def packets():
        if hasattr(source, "seek"):
            source.seek(0)
        with av.open(source) as container:
            stream = container.streams.video[0]
            # The demuxer's flush packet has no timestamps.
            yield stream, [p for p in container.demux(stream) if p.dts is not None]

    with av.open(target, "w", format="mp4") as out:
        for n in range(times):
            for stream, copy in packets():
                if n == 0:
                    span = max(p.pts + p.duration for p in copy)
                    video = out.add_stream_from_template(stream)
                for packet in copy:
                    packet.pts += n * span
                    packet.dts += n * span
                    packet.stream = video
                    out.mux(packet)
