"""reports/video.py against bad and unusual videos, made at test time (tests/videos.py).

Every accepted container is checked and hashed with the right facts; what is not a video, has no
video, has no frames, or names a codec nobody decodes is refused with a code, never a crash; files
cut short keep the frames before the cut and say so; the limits on pixels, frames and seconds hold
whatever the container claims (frames larger than allowed are never allocated, not even while
FFmpeg probes the file); variable frame rates keep each frame's own time; rotation is recorded
clockwise and not applied; unusual pixel formats hash; frames under 5 pixels a side get the
reference's empty hash.
"""

import io
import random
import resource

import av
import pytest

from reports.video import (
    NotAVideo,
    VideoRejected,
    inspect_video_bytes,
    sniff_extension_mismatch,
    vpdq_hash,
)
from tests.videos import (
    VFR_MS,
    claim_matroska_duration,
    make_audio,
    make_avif,
    make_empty_video,
    make_resizing_webm,
    make_video,
    png_bytes,
    with_unknown_codec,
)

EMPTY_PDQ = "0" * 64
# Where two encodes are compared: x264's lossy output differs by a few bytes from one run to
# the next now and then; lossless (qp 0), both decode to the pattern's exact pixels.
LOSSLESS = {"qp": "0"}


def hash_all(data: bytes, **kwargs):
    """Every frame's vPDQ, read from a file object."""
    return vpdq_hash(io.BytesIO(data), seconds_per_hash=0, prune_distance=0, **kwargs)


def rejected(data: bytes) -> VideoRejected:
    with pytest.raises(VideoRejected) as caught:
        inspect_video_bytes(data)
    return caught.value


# Accepted containers


@pytest.mark.parametrize(
    "container, encoder, name, codec",
    [
        ("mp4", "libx264", "mp4", "h264"),
        ("mov", "libx264", "mov", "h264"),
        ("webm", "libvpx", "webm", "vp8"),
        ("webm", "libvpx-vp9", "webm", "vp9"),
        ("mkv", "libx264", "matroska", "h264"),
        ("avi", "mpeg4", "avi", "mpeg4"),
    ],
    ids=["mp4-h264", "mov-h264", "webm-vp8", "webm-vp9", "mkv-h264", "avi-mpeg4"],
)
def test_each_accepted_container_is_checked_and_hashed(container, encoder, name, codec):
    data = make_video(container, encoder, width=80, height=48, frames=10, fps=10)
    info = inspect_video_bytes(data)
    assert (info.container, info.codec) == (name, codec)
    assert (info.width, info.height) == (80, 48)
    assert info.duration == pytest.approx(1.0)
    assert info.frame_rate == 10.0
    assert (info.rotation, info.pixel_format, info.has_audio) == (0, "yuv420p", False)
    hashed = hash_all(data)
    assert hashed.info == info
    assert [f.frame for f in hashed.frames] == list(range(10))
    assert [f.timestamp for f in hashed.frames] == pytest.approx([n / 10 for n in range(10)])
    assert all(f.quality > 0 and f.pdq != EMPTY_PDQ for f in hashed.frames)
    assert (hashed.frames_decoded, hashed.duration, hashed.stopped) == (10, 1.0, "")


def test_a_file_on_disk_hashes_as_its_bytes_do(tmp_path):
    data = make_video("mp4", path=tmp_path / "clip.mp4")
    assert vpdq_hash(tmp_path / "clip.mp4", seconds_per_hash=0).frames == hash_all(data).frames


def test_one_frame_a_second_at_ten_frames_a_second_takes_every_tenth():
    hashed = vpdq_hash(io.BytesIO(make_video("mkv", frames=25, fps=10)), seconds_per_hash=1)
    assert [f.frame for f in hashed.frames] == [0, 10, 20]
    assert [f.timestamp for f in hashed.frames] == [0.0, 1.0, 2.0]


def test_a_video_with_sound_says_so_and_hashes_its_pictures_alone():
    with_sound = make_video("mp4", audio=True, options=LOSSLESS)
    assert inspect_video_bytes(with_sound).has_audio
    assert hash_all(with_sound).frames == hash_all(make_video("mp4", options=LOSSLESS)).frames


def test_cover_art_is_not_the_video():
    # FFmpeg lists an MP4's cover art as a one-frame video stream (an attached picture).
    data = make_video("mp4", audio=True, cover_art=True, options=LOSSLESS)
    info = inspect_video_bytes(data)
    assert (info.codec, info.frame_rate, info.width) == ("h264", 10.0, 64)
    assert hash_all(data).frames == hash_all(make_video("mp4", options=LOSSLESS)).frames


def test_the_codec_is_named_as_the_codec_not_as_ffmpeg_s_decoder():
    if "libsvtav1" not in av.codecs_available:
        pytest.skip("no AV1 encoder in this PyAV")
    # FFmpeg decodes AV1 with libdav1d; the codec is AV1.
    assert inspect_video_bytes(make_video("mp4", "libsvtav1", frames=3)).codec == "av1"


# Truncated and damaged files


def test_an_mp4_cut_in_half_before_its_index_is_corrupt():
    # PyAV, like most muxers, writes the moov box (the index) last: without it nothing can be
    # found in the file. It is still an MP4 by its first bytes: corrupt, not "not a video".
    data = make_video("mp4", frames=40)
    cut = data[: len(data) // 2]
    error = rejected(cut)
    assert (error.code, error.status) == ("corrupt_video", 422)
    with pytest.raises(VideoRejected, match="damaged or incomplete"):
        hash_all(cut)


@pytest.mark.parametrize(
    "container, encoder, options",
    [
        ("mkv", "libx264", {}),
        ("webm", "libvpx", {}),
        ("avi", "mpeg4", {}),
        ("mp4", "libx264", {"movflags": "faststart"}),
        ("mp4", "libx264", {"movflags": "frag_keyframe+empty_moov"}),
    ],
    ids=["mkv", "webm", "avi", "mp4-index-first", "mp4-fragmented"],
)
def test_a_file_cut_in_half_keeps_the_frames_before_the_cut_and_says_so(
    container, encoder, options, tmp_path
):
    # FFmpeg reads a cut file as one that ends early, without an error: the hash compares what
    # was decoded with the duration the container states.
    data = make_video(container, encoder, frames=40, container_options=options, path=tmp_path / "v")
    complete = hash_all(data)
    cut = data[: len(data) // 2]
    info = inspect_video_bytes(cut)  # the first frame decodes: accepted
    assert (info.container, info.codec, info.width) == (
        complete.info.container,
        complete.info.codec,
        complete.info.width,
    )
    hashed = hash_all(cut)
    assert 0 < len(hashed.frames) < len(complete.frames)
    # The last frame may be made from half a packet, or be a later one whose B-frames were lost.
    assert hashed.frames[:-1] == complete.frames[: len(hashed.frames) - 1]
    assert "truncated or damaged" in hashed.stopped
    assert "ends after" in hashed.stopped
    # The duration is what was decoded, not what the container claimed.
    assert hashed.duration == pytest.approx(hashed.frames[-1].timestamp + 0.1)
    assert hashed.duration < 2.0


@pytest.mark.parametrize(
    "container, encoder",
    [
        ("mkv", "libx264"),
        ("webm", "libvpx"),
        ("avi", "mpeg4"),
        ("mp4", "libx264"),
        ("mov", "libx264"),
    ],
)
def test_garbage_in_the_middle_of_a_file_is_never_a_crash(container, encoder):
    data = make_video(container, encoder, frames=30)
    third = len(data) // 3
    for seed in range(4):
        damaged = data[:third] + random.Random(seed).randbytes(third) + data[2 * third :]
        try:
            hashed = hash_all(damaged)
        except (NotAVideo, VideoRejected):
            continue  # refused with a reason
        # Or hashed as far as it goes: decoders conceal some damage, stop at other.
        assert hashed.frames_decoded <= 30
        assert all(0 <= f.quality <= 100 and len(f.pdq) == 64 for f in hashed.frames)


# Not videos


@pytest.mark.parametrize(
    "data",
    [
        b"",
        random.Random(7).randbytes(4096),
        b"Vigil review notes: nothing to see here.\n" * 50,
        png_bytes(),
    ],
    ids=["empty", "random-bytes", "text", "png"],
)
def test_what_is_not_a_video_is_not_a_video(data, tmp_path):
    with pytest.raises(NotAVideo):
        inspect_video_bytes(data)
    # Named .mp4 on disk makes no difference: the bytes decide.
    (tmp_path / "clip.mp4").write_bytes(data)
    with pytest.raises(NotAVideo):
        vpdq_hash(tmp_path / "clip.mp4")


def test_an_avif_picture_is_not_a_video():
    if "libsvtav1" not in av.codecs_available:
        pytest.skip("no AV1 encoder in this PyAV")
    # FFmpeg opens it as an MP4 of one frame; it is a picture (as a phone's HEIC photo is).
    with pytest.raises(NotAVideo):
        inspect_video_bytes(make_avif())


@pytest.mark.parametrize(
    "container, filename, mismatch",
    [
        ("mp4", "clip.webm", True),
        ("mp4", "clip.mov", False),
        ("mp4", "CLIP.MP4", False),
        ("mp4", "clip", False),
        ("mov", "clip.mp4", False),
        ("webm", "clip.mkv", False),
        ("webm", "clip.mp4", True),
        ("avi", "clip.mkv", True),
    ],
)
def test_a_name_that_says_another_format_is_a_mismatch(container, filename, mismatch):
    encoder = {"webm": "libvpx", "avi": "mpeg4"}.get(container, "libx264")
    info = inspect_video_bytes(make_video(container, encoder, frames=2))
    assert sniff_extension_mismatch(info, filename) is mismatch


# No video in it


@pytest.mark.parametrize(
    "container, codec",
    [("m4a", "aac"), ("mka", "flac"), ("mka", "libopus"), ("webm", "libopus")],
)
def test_an_audio_file_has_no_video_stream(container, codec):
    error = rejected(make_audio(container, codec))
    assert (error.code, error.status) == ("no_video_stream", 422)
    assert "audio only" in error.message


def test_an_audio_file_with_cover_art_has_no_video_stream():
    data = make_audio("mp4", "aac", cover_art=True)
    error = rejected(data)
    assert (error.code, error.status) == ("no_video_stream", 422)
    with pytest.raises(VideoRejected):
        hash_all(data)


@pytest.mark.parametrize(
    "container, codec, code",
    [
        # The AVI header states the stream; not one packet follows.
        ("avi", "mpeg4", "corrupt_video"),
        # FFmpeg's Matroska header without a cluster does not open.
        ("mkv", "libx264", "corrupt_video"),
        # FFmpeg drops an MP4 track without samples.
        ("mp4", "libx264", "no_video_stream"),
    ],
)
def test_a_video_stream_without_frames_is_refused(container, codec, code):
    data = make_empty_video(container, codec)
    assert rejected(data).code == code
    with pytest.raises(VideoRejected):
        hash_all(data)


def test_a_codec_no_decoder_knows_is_refused():
    data = with_unknown_codec(make_video("mkv"))
    error = rejected(data)
    assert (error.code, error.status) == ("unsupported_video_type", 415)


# Pixels


@pytest.mark.parametrize(
    "container, encoder, pix_fmt, width, height",
    [
        ("mp4", "libx264", "yuv420p", 64, 48),
        ("webm", "libvpx", "yuv420p", 64, 48),
        ("mkv", "libx264", "yuv420p", 64, 48),
        # FFmpeg decodes these to learn their size as it opens them, and its guard leaves none.
        # (The MPEG-4 decoder's own buffers outgrow a frame under 640x480: so large a one here.)
        ("avi", "mpeg4", "yuv420p", 640, 480),
        ("mov", "qtrle", "rgb24", 64, 48),
    ],
)
def test_a_video_over_the_pixel_limit_is_too_large(
    settings, container, encoder, pix_fmt, width, height
):
    data = make_video(container, encoder, pix_fmt=pix_fmt, width=width, height=height, frames=2)
    settings.MAX_VIDEO_PIXELS = width * height - 1
    error = rejected(data)
    assert (error.code, error.status) == ("video_too_large", 413)
    assert error.message.startswith(f"{width}x{height} is too many pixels")
    with pytest.raises(VideoRejected, match="too many pixels"):
        hash_all(data)
    settings.MAX_VIDEO_PIXELS = width * height
    assert inspect_video_bytes(data).width == width


def test_frames_over_the_limit_are_refused_even_while_ffmpeg_opens_the_file(settings):
    # FFmpeg decodes some H.264 frames while it probes a file's streams, before anything here
    # sees the dimensions: its pixel guard must already be on then.
    settings.MAX_VIDEO_PIXELS = 64 * 48 - 1
    data = make_video("mkv", width=64, height=48, frames=4)
    level = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as logs, pytest.raises(VideoRejected, match="too many pixels"):
            inspect_video_bytes(data)
    finally:
        av.logging.set_level(level)
    assert any("exceeds specified max pixel count" in message for _, _, message in logs)


def test_frames_that_grow_over_the_limit_mid_stream_stop_the_hash_there(settings):
    data = make_resizing_webm([(64, 48), (128, 96)], frames_each=5)
    assert len(hash_all(data).frames) == 10
    settings.MAX_VIDEO_PIXELS = 64 * 48
    assert inspect_video_bytes(data).width == 64  # the container and first frame are in limits
    hashed = hash_all(data)
    assert [f.frame for f in hashed.frames] == [0, 1, 2, 3, 4]
    assert hashed.stopped.startswith("stopped decoding at frame 5:")


def test_a_frame_claiming_huge_dimensions_is_never_allocated():
    # The sixth frame's header claims 16000x16000 (256 megapixels, over the default 8K limit):
    # decoded without the guard, FFmpeg allocates its ~400 MB before finding the data too short.
    data = make_resizing_webm([(64, 48), (64, 48)], frames_each=5, claim=(16000, 16000))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hashed = hash_all(data)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KB on Linux
    assert [f.frame for f in hashed.frames] == [0, 1, 2, 3, 4]
    assert hashed.stopped.startswith("stopped decoding at frame 5:")
    assert grown < 100 * 1024
    # Claimed by the first frame: the check refuses the video.
    first = make_resizing_webm([(64, 48)], frames_each=3, claim=(16000, 16000))
    assert rejected(first).code == "corrupt_video"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024


# Frames and seconds


def test_more_frames_than_allowed_stop_the_hash_and_keep_the_first(settings):
    data = make_video("mkv", frames=12)
    everything = hash_all(data).frames
    settings.MAX_VIDEO_FRAMES = 5
    hashed = hash_all(data)
    assert hashed.frames == everything[:5]
    assert hashed.stopped == "more than 5 frames; hashed the first ones"


def test_a_video_longer_than_allowed_is_refused(settings):
    data = make_video("mp4", frames=30, fps=10)
    settings.MAX_VIDEO_SECONDS = 2
    error = rejected(data)
    assert (error.code, error.status) == ("video_too_long", 413)
    settings.MAX_VIDEO_SECONDS = 3
    assert inspect_video_bytes(data).duration == 3.0


def test_the_limit_on_seconds_is_told_in_minutes_that_are_not_rounded_to_nothing(settings):
    # A container may state any duration: this one says 90 seconds of its 3.
    data = claim_matroska_duration(make_video("mkv", frames=30, fps=10), 90)
    settings.MAX_VIDEO_SECONDS = 30
    error = rejected(data)
    assert error.message == "the video is 1.5 minutes long; at most 0.5 minutes are accepted."


def test_a_container_that_understates_its_duration_still_stops_at_the_limit(settings):
    # 40 seconds of video (a frame a second) in a file that says 10.
    data = claim_matroska_duration(make_video("mkv", frames=40, fps=1), 10)
    settings.MAX_VIDEO_SECONDS = 30
    info = inspect_video_bytes(data)
    assert info.duration == 10.0  # believed at the door...
    hashed = hash_all(data)  # ...not while hashing
    assert hashed.stopped == "longer than 0.5 minutes; hashed the first 0.5"
    assert [f.timestamp for f in hashed.frames] == [float(n) for n in range(31)]


# Time, rotation, pixel formats, tiny frames


@pytest.mark.parametrize(
    "container, encoder", [("mkv", "libx264"), ("mp4", "libx264"), ("webm", "libvpx-vp9")]
)
def test_a_variable_frame_rate_keeps_each_frame_s_own_time(container, encoder):
    hashed = hash_all(make_video(container, encoder, vfr=True))
    assert [f.timestamp for f in hashed.frames] == [ms / 1000 for ms in VFR_MS]
    assert hashed.stopped == ""


def test_a_phone_s_portrait_video_is_recorded_as_turned_90_degrees_clockwise():
    # The matrix a phone writes in a portrait video's track header (QuickTime's a, b, u, c, d, v,
    # x, y, w): players turn the picture 90 degrees clockwise. FFmpeg reports it as -90.
    iphone = [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30]
    data = make_video("mov", display_matrix=iphone)
    assert inspect_video_bytes(data).rotation == 90


@pytest.mark.parametrize("container", ["mp4", "mov", "mkv"])
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_is_recorded_and_not_applied(container, rotation):
    turned = make_video(container, rotation=rotation, options=LOSSLESS)
    hashed = hash_all(turned)
    assert hashed.info.rotation == rotation
    assert hashed.frames == hash_all(make_video(container, options=LOSSLESS)).frames


@pytest.mark.parametrize(
    "container, encoder, pix_fmt, decoded",
    [
        ("mp4", "libx264", "yuv444p", "yuv444p"),
        ("mkv", "libx264", "yuv422p", "yuv422p"),
        ("mkv", "libx264", "yuv420p10le", "yuv420p10le"),
        ("mkv", "ffv1", "gray", "gray"),
        ("mkv", "ffv1", "gray16le", "gray16le"),
        ("mkv", "ffv1", "bgr0", "bgr0"),
        ("mkv", "ffv1", "yuv420p12le", "yuv420p12le"),
        ("mov", "qtrle", "rgb24", "rgb24"),
        ("mov", "qtrle", "argb", "argb"),
        ("mov", "png", "rgba", "rgba"),
        ("mov", "png", "rgb48be", "rgb48be"),
        ("mp4", "libx264rgb", "bgr24", "gbrp"),
        ("avi", "mjpeg", "yuvj420p", "yuvj420p"),
        ("mov", "prores_ks", "yuv422p10le", "yuv422p10le"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_unusual_pixel_formats_hash(container, encoder, pix_fmt, decoded):
    data = make_video(container, encoder, pix_fmt=pix_fmt, frames=3)
    hashed = hash_all(data)
    assert hashed.info.pixel_format == decoded
    assert len(hashed.frames) == 3
    assert all(f.quality > 0 and f.pdq != EMPTY_PDQ for f in hashed.frames)
    # The same picture, whatever the format: near the plain 4:2:0 encode's hash.
    plain = hash_all(make_video("mp4", frames=3)).frames
    for ours, theirs in zip(hashed.frames, plain, strict=True):
        assert (int(ours.pdq, 16) ^ int(theirs.pdq, 16)).bit_count() <= 40


@pytest.mark.parametrize(
    "container, encoder, pix_fmt, width, height",
    [
        ("mp4", "libx264", "yuv420p", 4, 4),
        ("mp4", "libx264", "yuv420p", 64, 4),
        ("mkv", "libx264", "yuv420p", 4, 64),
        ("avi", "mpeg4", "yuv420p", 2, 2),
        ("mov", "qtrle", "rgb24", 1, 1),
        ("mkv", "ffv1", "yuv444p", 3, 7),
    ],
)
def test_frames_under_5_pixels_a_side_get_the_empty_hash(
    container, encoder, pix_fmt, width, height
):
    hashed = hash_all(make_video(container, encoder, pix_fmt=pix_fmt, width=width, height=height))
    assert (hashed.info.width, hashed.info.height) == (width, height)
    assert len(hashed.frames) == 10
    assert all(f.quality == 0 and f.pdq == EMPTY_PDQ for f in hashed.frames)


def test_frames_of_5_pixels_a_side_are_hashed():
    hashed = hash_all(make_video("mov", "qtrle", pix_fmt="rgb24", width=5, height=5))
    assert all(f.quality > 0 for f in hashed.frames)
