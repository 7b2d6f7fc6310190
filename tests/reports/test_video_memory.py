"""Hashing a video keeps memory bounded whatever its length: a worker's peak is the same for a
long 1080p video as for a short one (a frame at a time; the vPDQ of a frame a second is a few
hundred bytes a second), and stays under the per-worker bound.

Each hash runs in a fresh process, whose peak RSS (VmHWM) is read at its end."""

import json
import subprocess
import sys

import pytest

from tests.rqworker import ROOT
from tests.videos import make_video, repeat_packets

CHILD = """
import json, sys
import django
django.setup()
from reports.video import vpdq_hash

video = vpdq_hash(sys.argv[1], seconds_per_hash=float(sys.argv[2]))
peak = next(
    int(line.split()[1]) / 1024
    for line in open("/proc/self/status")
    if line.startswith("VmHWM:")
)
print(json.dumps({"frames": len(video.frames), "duration": video.duration, "peak_mb": peak}))
"""
TIMES = 12
# The bound for a 1080p hour, per worker.
PEAK_MB = 300


def hash_in_child(path, seconds_per_hash: float) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(seconds_per_hash)],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "config.test_settings", "VIGIL_VIDEO_DECODE_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A 1080p second (30 frames) and the same packets 12 times over."""
    tmp = tmp_path_factory.mktemp("memory")
    short = tmp / "short.mp4"
    make_video(
        width=1920, height=1080, frames=30, fps=30, path=short, options={"preset": "ultrafast"}
    )
    long = tmp / "long.mp4"
    repeat_packets(str(short), TIMES, str(long))
    return short, long


@pytest.mark.parametrize("seconds_per_hash", [1.0, 0.0])
def test_its_peak_does_not_grow_with_the_video_s_length(videos, seconds_per_hash):
    short, long = (hash_in_child(path, seconds_per_hash) for path in videos)
    assert long["duration"] == pytest.approx(TIMES * short["duration"], rel=0.01)
    assert long["frames"] == TIMES * short["frames"]
    # 360 frames at every frame are ~40 KB of hashes: more would be frames kept.
    assert long["peak_mb"] - short["peak_mb"] < 16, (short, long)
    assert long["peak_mb"] < PEAK_MB
