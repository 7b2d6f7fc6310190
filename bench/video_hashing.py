"""Hashing videos with vPDQ: seconds of video hashed per second of CPU, Vigil beside Meta's reference.

Vigil is `reports.video.vpdq_hash` (PyAV decodes, swscale converts, pdqhash hashes); the reference
is `vpdq.computeHash` (the `vpdq` package 0.2.5, Meta's C++ `vpdq-hash-video`, built against the
system's FFmpeg by bench/setup-venv.sh). Both hash the same frames: one a second (frame n when
n % int(fps) == 0) and every frame.

Videos: Meta's six sample videos (tests/data/vpdq/videos, 4–22 s, SD and 720p) and generated ones,
made once into a cache directory (var/bench-videos/ by default) with PyAV's H.264 encoder
(libx264, preset veryfast, CRF 23, 30 fps, yuv420p): a 720p and a 1080p video of `--seconds` (60
by default) and, with `--hour`, a 1080p hour for the memory target: the 1080p minute's packets
sixty times over in one MP4 (remuxed with shifted timestamps, not encoded again: an hour of
encoding would cost an hour, and decoding and hashing it costs what a one-hour file costs; only
its pictures repeat every minute). Their pictures are textured
scenes (a 1/f colour field, soft-edged shapes) panning smoothly, with a textured block moving
across, a cut every 10 s and sensor grain changing from frame to frame, so every frame has real
detail (PDQ quality 100), the hashes change over time as in real footage, and the bitrate is a
web upload's (~2 Mbit/s at 720p, ~5 at 1080p).

Every measurement is a fresh child process (this script, `--child`), pinned to one CPU (`--cpu`;
`--no-pin` lets it use all) and with one decoder thread: VIGIL_VIDEO_DECODE_THREADS=1 for Vigil;
for the reference, `thread_count=1` (which is its number of *hashing* threads: 1 hashes in the
decoding thread) and its decoder's automatic slice-thread count, which FFmpeg takes from the CPUs
the process may use: one when pinned. Vigil's RGB conversion (PyAV's `to_ndarray`, swscale) also
picks its thread count from the CPUs: one when pinned. The most threads each child was seen
running (/proc/PID/task, every 50 ms) is printed. The child imports what it needs (Vigil: Django
set up with config.test_settings, as a worker would have it; the reference: vpdq alone), then
takes its own user+sys CPU time (getrusage RUSAGE_SELF, all threads) around the one hashing call,
and its peak RSS at the end: the whole process's peak, imports included, as a worker's memory
would be counted. The peak is /proc/self/status VmHWM, not ru_maxrss, which on Linux carries the
parent's RSS at fork over into the child (`_status_mb`). With `--rounds N` the CPU figure is the
median of N runs and the peak the largest.

Also printed: whether the two agree on each video (the same frame numbers; PDQ distance max and
median frame by frame).

    bash bench/setup-venv.sh     # once: .venv-bench with vpdq (and Vigil's requirements)
    .venv-bench/bin/python bench/video_hashing.py                    # samples + 60 s 720p, 1080p
    .venv-bench/bin/python bench/video_hashing.py --rounds 3         # the same, median of 3
    .venv-bench/bin/python bench/video_hashing.py --hour             # + a 1080p hour (memory)
    .venv-bench/bin/python bench/video_hashing.py --hour --no-samples --no-generated --sampling 1
    .venv-bench/bin/python bench/video_hashing.py --seconds 5        # a quick check

Costs on the standard machine (2 cores): generating the 60 s videos takes about a minute and a
half; the 1080p hour a few seconds more (remuxed; 2.2 GB). Hashing is CPU-bound on the one core: at 1080p
every frame costs both implementations ~55 ms of CPU, so the hour at every frame takes about
1.5 h for each of them (~12 min each at one frame a second, which still decodes every frame);
`--sampling 1` leaves every-frame out.
"""

import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "vpdq" / "videos"
CACHE = ROOT / "var" / "bench-videos"
FPS = 30
SCENE_SECONDS = 10
SCENES = 6
# Bump when the generator changes, so cached videos are made again.
GENERATOR = 1
PRESET, CRF = "veryfast", 23
GRAIN = 4.0  # luma grain, standard deviation: ~5 Mbit/s at 1080p, as a web upload
SIZES = {720: (1280, 720), 1080: (1920, 1080)}
ONE_THREAD = {
    "VIGIL_VIDEO_DECODE_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


# The child: one hashing call, measured from inside.


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB (2^20 bytes).

    The peak is VmHWM, the high-water mark of this process's own memory since its exec, not
    ru_maxrss: on Linux a child's ru_maxrss starts at its parent's RSS when it was forked (the
    kernel carries the forked copy's high-water mark over the exec), so it would report the
    parent's size for any child smaller than it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def _child(argv: list[str]) -> None:
    implementation, path, seconds_per_hash, out, cpu = argv
    if int(cpu) >= 0:
        os.sched_setaffinity(0, {int(cpu)})  # before any decoder counts the CPUs
    seconds_per_hash = float(seconds_per_hash)
    if implementation == "vigil":
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
        import django

        django.setup()  # reports.video reads its limits from the settings; no database
        from django.conf import settings

        from reports.video import vpdq_hash

        threads = settings.VIDEO_DECODE_THREADS

        def run():
            result = vpdq_hash(path, seconds_per_hash=seconds_per_hash, prune_distance=0)
            return [(f.frame, f.quality, f.pdq) for f in result.frames], result.duration

    else:
        import vpdq

        threads = 1

        def run():
            features = vpdq.computeHash(
                path, seconds_per_hash=seconds_per_hash, thread_count=threads
            )
            return [(f.frame_number, f.quality, f.hex) for f in features], None

    rss_before = _status_mb("VmRSS")
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    frames, duration = run()
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    Path(out).write_text(
        json.dumps(
            {
                "cpu": user + system,
                "user": user,
                "sys": system,
                "wall": wall,
                "process_cpu": after.ru_utime + after.ru_stime,
                "rss_before_mb": rss_before,
                "peak_mb": _status_mb("VmHWM"),
                "ru_maxrss_mb": after.ru_maxrss / 1024,
                "threads_setting": threads,
                "duration": duration,
                "frames": frames,
            }
        )
    )


# The parent: videos, runs, tables.


def _canvas(rng, width: int, height: int):
    """A textured RGB scene: 1/f colour field, soft-edged shapes, fine static texture."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    field = np.zeros((height, width, 3), np.float32)
    for cells, amplitude in ((3, 60), (8, 40), (24, 24), (80, 14), (300, 9)):
        grid = rng.normal(0, 1, (max(2, cells * height // width), cells, 3)).astype(np.float32)
        grid[..., 1:] = grid[..., 1:] * 0.5 + grid[..., :1] * 0.5
        for c in range(3):
            layer = Image.fromarray(grid[..., c], "F").resize(
                (width, height), Image.Resampling.BICUBIC
            )
            field[..., c] += amplitude * np.asarray(layer)
    field += rng.uniform(70, 180, 3)
    base = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).convert("RGBA")
    shapes = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    for _ in range(int(rng.integers(12, 24))):
        colour = (*(int(v) for v in rng.integers(0, 256, 3)), int(rng.integers(150, 256)))
        x0, y0 = int(rng.integers(-width // 8, width)), int(rng.integers(-height // 8, height))
        w = int(rng.integers(width // 24, width // 4))
        h = int(rng.integers(height // 24, height // 3))
        if rng.integers(2):
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
    shapes = shapes.filter(ImageFilter.GaussianBlur(float(rng.uniform(1, 3))))
    pixels = np.asarray(Image.alpha_composite(base, shapes).convert("RGB"), np.float32)
    pixels += rng.normal(0, 3, (height, width, 1)).astype(np.float32)  # fine texture, static
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _planes(rgb):
    """RGB -> the Y, U, V planes of yuv420p (swscale's BT.601 conversion, through PyAV)."""
    import av
    import numpy as np

    yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    return tuple(
        np.frombuffer(plane, np.uint8)
        .reshape(plane.height, plane.line_size)[:, : plane.width]
        .copy()
        for plane in yuv.planes
    )


def generate(path: Path, lines: int, seconds: int) -> None:
    """An H.264 MP4 of `seconds` at `lines`p, 30 fps: textured scenes panning, a textured block
    moving across them, a cut every SCENE_SECONDS."""
    import math
    from fractions import Fraction

    import av
    import numpy as np

    width, height = SIZES[lines]
    pad_x, pad_y = width // 4 // 2 * 2, height // 4 // 2 * 2
    rng = np.random.default_rng(lines * 1000 + GENERATOR)
    scenes = [_planes(_canvas(rng, width + pad_x, height + pad_y)) for _ in range(SCENES)]
    side = height // 4 // 2 * 2
    sprite = _planes(_canvas(rng, side, side))
    # Sensor grain that changes from frame to frame (a few frames' worth, cycled), so the
    # encoder spends bits as on camera footage rather than on a clean pan.
    grain = [rng.normal(0, GRAIN, (height, width)).astype(np.int16) for _ in range(7)]
    luma = np.empty((height, width), np.int16)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        time_base = stream.time_base = Fraction(1, FPS)  # the muxer changes the stream's later
        stream.options = {"preset": PRESET, "crf": str(CRF)}
        out = np.empty((height * 3 // 2, width), np.uint8)
        y_out = out[:height]
        u_out = out[height : height * 5 // 4].reshape(height // 2, width // 2)
        v_out = out[height * 5 // 4 :].reshape(height // 2, width // 2)
        for n in range(seconds * FPS):
            t = n / FPS
            y, u, v = scenes[int(t // SCENE_SECONDS) % SCENES]
            # A smooth pan over the scene (a Lissajous path), on even pixels for the chroma.
            x0 = int(pad_x / 2 * (1 + math.sin(2 * math.pi * t / 11))) // 2 * 2
            y0 = int(pad_y / 2 * (1 + math.cos(2 * math.pi * t / 7))) // 2 * 2
            np.add(y[y0 : y0 + height, x0 : x0 + width], grain[n % len(grain)], out=luma)
            np.clip(luma, 0, 255, out=y_out, casting="unsafe")
            u_out[:] = u[y0 // 2 : (y0 + height) // 2, x0 // 2 : (x0 + width) // 2]
            v_out[:] = v[y0 // 2 : (y0 + height) // 2, x0 // 2 : (x0 + width) // 2]
            # The block crosses the frame every 5 s, bouncing between top and bottom.
            bx = int((width - side) * ((t / 5) % 1)) // 2 * 2
            by = int((height - side) * abs(math.sin(math.pi * t / 3))) // 2 * 2
            y_out[by : by + side, bx : bx + side] = sprite[0]
            u_out[by // 2 : (by + side) // 2, bx // 2 : (bx + side) // 2] = sprite[1]
            v_out[by // 2 : (by + side) // 2, bx // 2 : (bx + side) // 2] = sprite[2]
            frame = av.VideoFrame.from_ndarray(out, format="yuv420p")
            frame.pts = n
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    tmp.rename(path)


def generated(cache: Path, lines: int, seconds: int) -> Path:
    path = cache / f"synthetic-{lines}p-{seconds}s-g{GENERATOR}.mp4"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(
            f"generating {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} …",
            file=sys.stderr,
            flush=True,
        )
        started = time.perf_counter()
        generate(path, lines, seconds)
        print(
            f"  {time.perf_counter() - started:.0f} s, {path.stat().st_size / 2**20:.1f} MB",
            file=sys.stderr,
            flush=True,
        )
    return path


def repeated(cache: Path, minute: Path, times: int) -> Path:
    """`minute`'s packets `times` times over in one MP4 (tests/videos.py `repeat_packets`)."""
    from tests.videos import repeat_packets

    path = cache / f"{minute.stem}-x{times}.mp4"
    if not path.exists():
        print(f"remuxing {minute.name} {times} times …", file=sys.stderr, flush=True)
        tmp = path.with_suffix(".part.mp4")
        repeat_packets(str(minute), times, str(tmp))
        tmp.rename(path)
    return path


def describe(path: Path) -> dict:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = container.duration / av.time_base
        return {
            "duration": duration,
            "size": f"{stream.codec_context.width}x{stream.codec_context.height}",
            "codec": stream.codec_context.name,
            "fps": float(stream.average_rate or stream.base_rate),
            "mb": path.stat().st_size / 2**20,
        }


def measure(implementation: str, path: Path, seconds_per_hash: float, cpu: int, tmp: Path):
    """One run in a fresh child; its own figures, plus the most threads it was seen running."""
    import subprocess

    out = tmp / f"{implementation}.json"
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            implementation,
            str(path),
            str(seconds_per_hash),
            str(out),
            str(cpu),
        ],
        env={**os.environ, **ONE_THREAD},
    )
    threads = 0
    while child.poll() is None:
        with contextlib.suppress(OSError):  # the child may have just ended
            threads = max(threads, len(os.listdir(f"/proc/{child.pid}/task")))
        time.sleep(0.05)
    if child.returncode:
        sys.exit(f"the {implementation} child failed on {path.name} ({child.returncode})")
    result = json.loads(out.read_text())
    out.unlink()
    result["threads_seen"] = threads
    return result


def machine() -> str:
    import platform

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    memory = next(
        int(line.split()[1]) / 2**20
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB; Python {platform.python_version()}"


def main():
    import argparse
    import datetime
    import statistics
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="generated videos' length")
    parser.add_argument("--hour", action="store_true", help="also a one-hour 1080p video")
    parser.add_argument("--no-samples", action="store_true", help="leave out the sample videos")
    parser.add_argument(
        "--no-generated", action="store_true", help="leave out the 720p and 1080p videos"
    )
    parser.add_argument(
        "--sampling",
        default="1,0",
        help="seconds per hash to measure, comma-separated (1: one frame a second; 0: every)",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--cpu", type=int, default=max(os.sched_getaffinity(0)), help="the CPU children run on"
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let children use every CPU: FFmpeg's automatic thread counts then see them all",
    )
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    if args.no_pin:
        args.cpu = -1
    try:
        import vpdq  # noqa: F401
    except ImportError:
        sys.exit("bench/video_hashing.py needs vpdq: bash bench/setup-venv.sh")
    sys.path.insert(0, str(ROOT))
    from bench.vpdq_reference import distance, reference_versions, vigil_versions

    samplings = [float(s) for s in args.sampling.split(",")]
    videos = [] if args.no_samples else sorted(SAMPLES.glob("*.mp4"))
    if not args.no_generated:
        videos += [generated(args.cache, lines, args.seconds) for lines in (720, 1080)]
    if args.hour:
        videos.append(repeated(args.cache, generated(args.cache, 1080, 60), 60))
    videos = list(dict.fromkeys(videos))

    print(
        f"# bench/video_hashing.py — vPDQ, Vigil beside Meta's reference, {datetime.date.today()}"
    )
    print(f"\n{machine()}")
    print(f"Vigil: reports.video.vpdq_hash with {vigil_versions()}")
    print(f"reference: vpdq.computeHash, {reference_versions()}")
    where = (
        f"on any of CPUs {sorted(os.sched_getaffinity(0))}"
        if args.no_pin
        else f"pinned to CPU {args.cpu}"
    )
    automatic = len(os.sched_getaffinity(0)) if args.no_pin else 1
    print(
        f"Threads: each run a fresh process {where}. Vigil: VIGIL_VIDEO_DECODE_THREADS=1 (its "
        f"RGB conversion, swscale through PyAV, picks its own thread count: {automatic}). "
        "Reference: thread_count=1 (hashing in the decoding thread), its decoder on FFmpeg's "
        f"automatic slice threads ({automatic}). "
        f"{args.rounds} round(s); CPU = user+sys of the hashing call, median over rounds; "
        "peak = the process's VmHWM (imports included), largest over rounds."
    )
    described = {video: describe(video) for video in videos}
    print("\n| video | size | codec | fps | duration (s) | file (MB) | Mbit/s |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for video, d in described.items():
        print(
            f"| {video.stem} | {d['size']} | {d['codec']} | {d['fps']:g} | {d['duration']:.1f} "
            f"| {d['mb']:.1f} | {d['mb'] * 2**20 * 8 / 1e6 / d['duration']:.1f} |"
        )

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for video in videos:
            for seconds_per_hash in samplings:
                runs = {"vigil": [], "reference": []}
                for n in range(args.rounds):
                    # Each round in the other order, so neither always runs on a warmer cache.
                    for implementation in list(runs)[:: -1 if n % 2 else 1]:
                        runs[implementation].append(
                            measure(implementation, video, seconds_per_hash, args.cpu, Path(tmp))
                        )
                rows.append((video, seconds_per_hash, runs))
                v, r = (statistics.median(x["cpu"] for x in runs[k]) for k in runs)
                print(
                    f"{video.stem}, {seconds_per_hash:g} s per hash: Vigil {v:.2f} CPU-s, "
                    f"reference {r:.2f} CPU-s",
                    file=sys.stderr,
                    flush=True,
                )

    def sampling(s: float) -> str:
        return "every frame" if s == 0 else f"1 frame / {s:g} s"

    print(
        "\n| video | duration (s) | sampling | Vigil video-s / CPU-s | reference video-s / CPU-s "
        "| ratio Vigil / reference | Vigil peak MB | reference peak MB |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for video, seconds_per_hash, runs in rows:
        duration = described[video]["duration"]
        cpu = {k: statistics.median(x["cpu"] for x in runs[k]) for k in runs}
        peak = {k: max(x["peak_mb"] for x in runs[k]) for k in runs}
        rate = {k: duration / cpu[k] for k in runs}
        print(
            f"| {video.stem} | {duration:.1f} | {sampling(seconds_per_hash)} "
            f"| {rate['vigil']:.1f} | {rate['reference']:.1f} "
            f"| {rate['vigil'] / rate['reference']:.2f} | {peak['vigil']:.0f} "
            f"| {peak['reference']:.0f} |"
        )

    print(
        "\nAgreement (first round) and what each run held: frames hashed; PDQ distance between "
        "Vigil's and the reference's hash of each frame; Vigil's lowest PDQ quality; the most "
        "threads each process was seen running; RSS before the hashing call (after imports); "
        "CPU of the whole process, start-up and imports included.\n"
    )
    print(
        "| video | sampling | frames Vigil / ref | same frame numbers | PDQ distance max "
        "| median | Vigil min quality | threads Vigil / ref | RSS before MB Vigil / ref "
        "| process CPU-s Vigil / ref |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for video, seconds_per_hash, runs in rows:
        ours, theirs = runs["vigil"][0], runs["reference"][0]
        by_number = {n: pdq for n, _, pdq in theirs["frames"]}
        d = [distance(pdq, by_number[n]) for n, _, pdq in ours["frames"] if n in by_number]
        same = [f[0] for f in ours["frames"]] == [f[0] for f in theirs["frames"]]
        print(
            f"| {video.stem} | {sampling(seconds_per_hash)} "
            f"| {len(ours['frames'])} / {len(theirs['frames'])} | {'yes' if same else '**NO**'} "
            f"| {max(d, default=0)} | {statistics.median(d) if d else 0:g} "
            f"| {min((q for _, q, _ in ours['frames']), default=0)} "
            f"| {ours['threads_seen']} / {theirs['threads_seen']} "
            f"| {ours['rss_before_mb']:.0f} / {theirs['rss_before_mb']:.0f} "
            f"| {ours['process_cpu']:.2f} / {theirs['process_cpu']:.2f} |"
        )

    hour = [
        max(x["peak_mb"] for x in runs["vigil"])
        for video, _, runs in rows
        if described[video]["size"] == "1920x1080" and described[video]["duration"] >= 3599
    ]
    print("\n| target | result |\n| --- | --- |")
    if hour:
        worst = max(hour)
        verdict = "PASS" if worst <= 300 else "FAIL"
        print(f"| peak memory per worker ≤ 300 MB, 1080p hour | {verdict}: {worst:.0f} MB |")
    else:
        print("| peak memory per worker ≤ 300 MB, 1080p hour | not measured (run with --hour) |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2:])
    else:
        main()
