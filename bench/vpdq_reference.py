"""Meta's reference vPDQ (the `vpdq` package, 0.2.5) on the sample videos, beside Vigil's.

The reference is the C++ `vpdq-hash-video` code behind `vpdq.computeHash`, built against the
system's FFmpeg (bench/setup-venv.sh). Every frame is hashed (`seconds_per_hash=0`).

- With `--write DIR`: writes DIR/NAME.txt for each video, one line per frame,
  `frame,quality,pdq,timestamp` (timestamp with three decimals), as tests/data/vpdq/reference-0.2.5/
  holds them (tests/data/vpdq/README.md), and says whether each file is byte for byte the one
  committed there.
- Without: prints, per video, how far Vigil's `reports.video.vpdq_hash(..., seconds_per_hash=0)`
  is from the reference, frame by frame (PDQ distance max / median, qualities, timestamps), and
  whether the reference still reproduces the committed file.

    bash bench/setup-venv.sh     # once: .venv-bench with vpdq (and Vigil's requirements)
    .venv-bench/bin/python bench/vpdq_reference.py
    .venv-bench/bin/python bench/vpdq_reference.py --write tests/data/vpdq/reference-0.2.5
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VPDQ = ROOT / "tests" / "data" / "vpdq"
COMMITTED = VPDQ / "reference-0.2.5"


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def reference_lines(path: Path, seconds_per_hash: float = 0, thread_count: int = 0) -> list[str]:
    """The reference's output for one video: `frame,quality,pdq,timestamp` lines."""
    import vpdq

    features = vpdq.computeHash(
        str(path), seconds_per_hash=seconds_per_hash, thread_count=thread_count
    )
    return [f"{f.frame_number},{f.quality},{f.hex},{f.timestamp:.3f}\n" for f in features]


def _mapped(library: str) -> list[str]:
    """Files of `library` (e.g. libavcodec) mapped into this process."""
    found = set()
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and Path(parts[5]).name.startswith(library):
            found.add(parts[5])
    return sorted(found)


def _debian_version(path: str) -> str:
    try:
        owner = subprocess.run(
            ["dpkg", "-S", path], capture_output=True, text=True, check=True
        ).stdout.split(":")[0]
        return subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", owner],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""


def reference_versions() -> str:
    """The vpdq package and the system FFmpeg it is linked with (call after importing vpdq)."""
    from importlib.metadata import version

    import vpdq  # noqa: F401

    # PyAV's own FFmpeg lives in its wheel (av.libs/); the reference's is the system's.
    system = [p for p in _mapped("libavcodec") if ".libs/" not in p]
    ffmpeg = "?"
    if system:
        ffmpeg = Path(system[0]).name
        package = _debian_version(system[0])
        if package:
            ffmpeg += f" (Debian {package})"
    return f"vpdq {version('vpdq')} with {ffmpeg}"


def vigil_versions() -> str:
    from importlib.metadata import version

    import av

    codec = ".".join(str(n) for n in av.library_versions["libavcodec"])
    return f"PyAV {av.__version__} (libavcodec {codec}), pdqhash {version('pdqhash')}"


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VPDQ / "videos")
    parser.add_argument("--write", type=Path, metavar="DIR", help="write DIR/NAME.txt per video")
    args = parser.parse_args()
    try:
        import vpdq  # noqa: F401
    except ImportError:
        sys.exit("bench/vpdq_reference.py needs vpdq: bash bench/setup-venv.sh")
    videos = sorted(args.videos.glob("*.mp4"))
    if not videos:
        sys.exit(f"no videos under {args.videos}")

    print(f"# bench/vpdq_reference.py — {len(videos)} videos, every frame")
    print(f"\n{machine()}; reference: {reference_versions()}")

    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        print(f"\n| video | frames | written | same bytes as {COMMITTED.relative_to(ROOT)}/ |")
        print("| --- | ---: | --- | --- |")
        for video in videos:
            text = "".join(reference_lines(video))
            target = args.write / f"{video.stem}.txt"
            target.write_text(text)
            committed = COMMITTED / target.name
            same = (
                ("yes" if committed.read_bytes() == text.encode() else "**NO**")
                if committed.exists()
                else "(none committed)"
            )
            print(f"| {video.stem} | {text.count(chr(10))} | {target} | {same} |")
        return

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    import django

    django.setup()  # reports.video reads its limits from the settings; no database is touched
    from reports.video import vpdq_hash

    print(f"Vigil: reports.video.vpdq_hash with {vigil_versions()}")
    print(
        "\n| video | frames Vigil / reference | same frame numbers | PDQ distance max | median "
        "| frames differing | qualities differing | timestamp max diff (s) | reference = committed |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    worst = 0
    for video in videos:
        lines = reference_lines(video)
        theirs = [line.rstrip("\n").split(",") for line in lines]
        ours = vpdq_hash(video, seconds_per_hash=0, prune_distance=0).frames
        committed = COMMITTED / f"{video.stem}.txt"
        same_file = (
            ("yes" if committed.read_text() == "".join(lines) else "**NO**")
            if committed.exists()
            else "—"
        )
        same_numbers = [f.frame for f in ours] == [int(r[0]) for r in theirs]
        by_number = {int(r[0]): r for r in theirs}
        pairs = [(f, by_number[f.frame]) for f in ours if f.frame in by_number]
        d = [distance(f.pdq, r[2]) for f, r in pairs] or [0]
        qualities = sum(f.quality != int(r[1]) for f, r in pairs)
        timestamps = max((abs(f.timestamp - float(r[3])) for f, r in pairs), default=0.0)
        worst = max(worst, max(d))
        print(
            f"| {video.stem} | {len(ours)} / {len(theirs)} | {'yes' if same_numbers else '**NO**'} "
            f"| {max(d)} | {statistics.median(d):g} | {sum(x > 0 for x in d)} | {qualities} "
            f"| {timestamps:.4f} | {same_file} |"
        )
    print(f"\nAt most {worst} bits apart on any frame of any video.")


if __name__ == "__main__":
    main()
