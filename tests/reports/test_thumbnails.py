"""reports/thumbnails.py: a video's strip of stills, on Meta's sample videos and on damaged and
unusual ones made at test time (tests/videos.py). Stills are evenly spaced, carry the time of the
frame shown, keep the aspect a player shows (rotation and all), and a damaged file gives what
decodes and says why; only a file that is not a video raises, and then StripFailed."""

import io
import resource
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reports.thumbnails import (
    STRIP_FRAMES,
    StripFailed,
    keyframe_strip,
    strip_storage_name,
    targets,
    thumb_size,
)
from tests.videos import (
    claim_matroska_duration,
    make_empty_video,
    make_resizing_webm,
    make_video,
)

VIDEOS = Path(__file__).resolve().parent.parent / "data" / "vpdq" / "videos"
# name: (stored size, seconds)
SAMPLES = {
    "chair-19-sd-bar": ((480, 720), 18.8),
    "doorknob-hd-no-bar": ((1280, 720), 4.0),
    "test-padded-dimensions": ((1080, 1080), 5.0),
}


def strip_of(data: bytes, **kwargs):
    return keyframe_strip(io.BytesIO(data), **kwargs)


@pytest.mark.parametrize("name", SAMPLES)
def test_a_sample_video_gives_evenly_spaced_stills_at_their_frames_times(name):
    (width, height), seconds = SAMPLES[name]
    with open(VIDEOS / f"{name}.mp4", "rb") as f:
        strip = keyframe_strip(f)
    assert strip.stopped == ""
    assert len(strip.thumbnails) == STRIP_FRAMES
    times = strip.timestamps
    assert times[0] == 0.0 and times == sorted(set(times)) and times[-1] < seconds
    # Each still is the first frame at (or just after) its even share of the video.
    for asked, got in zip(targets(seconds, STRIP_FRAMES), times, strict=True):
        assert asked - 0.02 <= got <= asked + 1 / 30 + 0.02
    expected = thumb_size(width, height, 0)
    assert {t.image.size for t in strip.thumbnails} == {expected}
    assert max(expected) == 160 and abs(expected[0] / expected[1] - width / height) < 0.02
    # Not blank: stills of a real video have picture in them (the doorknob's start is dark).
    assert sum(np.asarray(t.image).std() > 5 for t in strip.thumbnails) > STRIP_FRAMES // 2


def test_the_sprite_holds_every_still_side_by_side():
    with open(VIDEOS / "doorknob-hd-no-bar.mp4", "rb") as f:
        strip = keyframe_strip(f, count=5)
    data, tile_w, tile_h = strip.sprite()
    sheet = Image.open(io.BytesIO(data))
    assert sheet.format == "JPEG" and (tile_w, tile_h) == (160, 90)
    assert sheet.size == (5 * 160, 90)
    first = np.asarray(sheet.convert("RGB").crop((0, 0, 160, 90)), dtype=float)
    assert np.abs(first - np.asarray(strip.thumbnails[0].image, dtype=float)).mean() < 8
    assert strip.thumbnails[0].jpeg.startswith(b"\xff\xd8")


def test_stills_are_turned_as_a_player_turns_the_picture():
    plain = strip_of(make_video("mp4", width=64, height=48, frames=10, options={"qp": "0"}))
    turned = strip_of(
        make_video("mp4", width=64, height=48, frames=10, rotation=90, options={"qp": "0"})
    )
    assert plain.thumbnails[0].image.size == (160, 120)
    assert turned.thumbnails[0].image.size == (120, 160)
    ours = np.asarray(turned.thumbnails[0].image, dtype=float)
    expected = np.rot90(np.asarray(plain.thumbnails[0].image, dtype=float), k=-1)
    assert np.abs(ours - expected).mean() < 6


def test_a_short_video_gives_each_frame_once():
    strip = strip_of(make_video("webm", "libvpx-vp9", frames=10, fps=10))
    assert 5 <= len(strip.thumbnails) <= 10
    assert strip.timestamps == sorted(set(strip.timestamps))


def test_a_file_cut_short_keeps_the_stills_before_the_cut_and_says_so():
    data = (VIDEOS / "chair-19-sd-bar.mp4").read_bytes()
    strip = strip_of(data[: len(data) // 2])
    assert 4 <= len(strip.thumbnails) < STRIP_FRAMES
    assert strip.stopped
    assert strip.timestamps == sorted(set(strip.timestamps))


def test_a_container_that_overstates_its_duration_gives_what_there_is():
    data = claim_matroska_duration(make_video("mkv", frames=10, fps=10), 100.0)
    strip = strip_of(data)
    assert strip.thumbnails and strip.thumbnails[0].timestamp == 0.0
    assert "ends at" in strip.stopped


def test_frames_that_change_size_fit_one_tile():
    strip = strip_of(make_resizing_webm([(64, 48), (128, 48)], frames_each=5))
    sizes = {t.image.size for t in strip.thumbnails}
    assert sizes == {(160, 120), (160, 60)}
    _, tile_w, tile_h = strip.sprite()
    assert (tile_w, tile_h) == (160, 120)


def test_a_stream_without_frames_gives_no_still_and_says_so():
    strip = strip_of(make_empty_video())
    assert strip.thumbnails == [] and strip.stopped


@pytest.mark.parametrize(
    "data", [b"not a video at all" * 100, b"", Image.new("RGB", (8, 8)).tobytes()]
)
def test_what_is_not_a_video_fails_with_one_clear_exception(data):
    with pytest.raises(StripFailed):
        strip_of(data)


def test_frames_over_the_pixel_limit_are_never_allocated(settings):
    # The sixth frame claims 16000x16000: without FFmpeg's max_pixels, ~400 MB is allocated.
    data = make_resizing_webm([(64, 48), (64, 48)], frames_each=5, claim=(16000, 16000))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    strip = strip_of(data)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024
    assert all(t.timestamp < 0.5 for t in strip.thumbnails)
    settings.MAX_VIDEO_PIXELS = 64 * 48 - 1
    strip = strip_of(make_video("mp4", width=64, height=48))
    assert strip.thumbnails == [] and strip.stopped.startswith("no frame decodes at 0.0 s")


def test_the_frames_decoded_are_bounded():
    data = make_video("mkv", frames=60, fps=10)
    strip = strip_of(data, max_frames=12)
    assert 1 <= len(strip.thumbnails) < STRIP_FRAMES
    assert "limit" in strip.stopped


def test_sizes_keep_the_aspect_a_player_shows():
    assert thumb_size(1920, 1080, 0) == (160, 90)
    assert thumb_size(1920, 1080, 90) == (90, 160)
    assert thumb_size(720, 1280, 0) == (90, 160)
    assert thumb_size(720, 576, 0, sar=64 / 45) == (160, 90)  # anamorphic PAL widescreen
    assert thumb_size(2, 2000, 0) == (1, 160)


def test_targets_spread_over_the_video_or_a_second_apart_without_a_length():
    assert targets(16.0, 4) == [0.0, 4.0, 8.0, 12.0]
    assert targets(None, 3) == [0.0, 1.0, 2.0]


def test_a_strip_is_stored_beside_nothing_public():
    assert strip_storage_name("media/ab/cd/abcd") == "strips/media/ab/cd/abcd.jpg"


@pytest.mark.parametrize("name", SAMPLES)
def test_the_stills_picked_while_hashing_are_the_strip_s(name):
    """The hashing pass picks the same frames as keyframe_strip would seek and decode to, and
    makes the same stills of them, without decoding the video a second time."""
    from reports.thumbnails import StillPicker
    from reports.video import vpdq_hash

    picker = StillPicker()
    with open(VIDEOS / f"{name}.mp4", "rb") as f:
        vpdq_hash(f, stills=picker)
    with open(VIDEOS / f"{name}.mp4", "rb") as f:
        strip = keyframe_strip(f)
    assert picker.strip.timestamps == strip.timestamps
    for picked, sought in zip(picker.strip.thumbnails, strip.thumbnails, strict=True):
        assert np.array_equal(np.asarray(picked.image), np.asarray(sought.image))
