"""Hashing 12-megapixel photos: Vigil's five hashes beside python-threatexchange's PDQ alone.

Makes photo-like 4000x3000 JPEGs (quality 90; a 1/f colour field like natural scenes, soft-edged
objects, sensor noise: ~3 MB each, not flat colour), then times, one image at a time:

- Vigil: `reports.hashing.hash_bytes` — SHA-256, MD5, PDQ with its quality and eight dihedral
  variants, pHash and dHash, from the file's bytes;
- python-threatexchange: `pdq_from_bytes` — PDQ and quality alone, at full resolution.

Vigil hashes large images from a reduced copy (reports/hashing.py), so each photo's PDQ is also
compared with the full-resolution reference: `pdqhash.compute` on the undecimated RGB array. The
target holds for photos whose reference quality is at least 80; pHash and dHash are compared with
imagehash on the full image too, for information.

    bash bench/setup-venv.sh     # once: .venv-bench with threatexchange
    .venv-bench/bin/python bench/hashing.py [--photos 12 --rounds 3 --cpu 1]
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import imagehash  # noqa: E402
import numpy as np  # noqa: E402
import pdqhash  # noqa: E402
import PIL  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.hashing import HASH_SIDE, bits_to_hex, hash_bytes  # noqa: E402

WIDTH, HEIGHT, QUALITY = 4000, 3000, 90


def photo(seed: int, width: int = WIDTH, height: int = HEIGHT, quality: int = QUALITY) -> bytes:
    rng = np.random.default_rng(seed)
    # A 1/f colour field (the spectrum of natural scenes): random grids at several scales, smoothly
    # upsampled, colour channels partly correlated; plus a gradient for the light.
    field = np.zeros((height, width, 3), np.float32)
    for cells, amplitude in ((4, 60), (12, 35), (40, 18), (150, 10), (600, 8), (1600, 7)):
        grid = rng.normal(0, 1, (max(2, cells * height // width), cells, 3)).astype(np.float32)
        grid[..., 1:] = grid[..., 1:] * 0.5 + grid[..., :1] * 0.5
        for c in range(3):
            layer = Image.fromarray(grid[..., c], "F").resize(
                (width, height), Image.Resampling.BICUBIC
            )
            field[..., c] += amplitude * np.asarray(layer)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    light = np.cos(angle) * xx / width + np.sin(angle) * yy / height
    field += rng.uniform(60, 190, 3) + rng.uniform(-60, 60) * light[..., None]
    base = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).convert("RGBA")
    # Objects with soft edges: ellipses, boxes, polygons.
    objects = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(objects)
    for _ in range(rng.integers(8, 20)):
        colour = (*(int(v) for v in rng.integers(0, 256, 3)), int(rng.integers(140, 256)))
        x0, y0 = int(rng.integers(-width // 4, width)), int(rng.integers(-height // 4, height))
        w = int(rng.integers(width // 20, width // 2))
        h = int(rng.integers(height // 20, height // 2))
        kind = rng.integers(3)
        if kind == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        elif kind == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            points = [
                (x0 + int(rng.integers(0, w)), y0 + int(rng.integers(0, h)))
                for _ in range(rng.integers(3, 7))
            ]
            draw.polygon(points, fill=colour)
    objects = objects.filter(ImageFilter.GaussianBlur(rng.uniform(1, 4)))
    pixels = np.asarray(Image.alpha_composite(base, objects).convert("RGB"), np.float32)
    # Sensor noise, mostly in luminance.
    pixels += rng.normal(0, 4, (height, width, 1)).astype(np.float32)
    pixels += rng.normal(0, 1.5, (height, width, 3)).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def reference(data: bytes) -> dict:
    """Full-resolution hashes: the whole RGB array, nothing reduced."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    vector, quality = pdqhash.compute(np.asarray(image))
    return {
        "pdq": bits_to_hex(vector),
        "quality": int(quality),
        "phash": str(imagehash.phash(image)),
        "dhash": str(imagehash.dhash(image)),
    }


def timed(fn, photos: list[bytes], rounds: int) -> tuple[np.ndarray, list]:
    fn(photos[0])  # warm up
    times, results = [], []
    for _ in range(rounds):
        for data in photos:
            t = time.perf_counter()
            results.append(fn(data))
            times.append(time.perf_counter() - t)
    return np.array(times) * 1000, results[: len(photos)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    try:
        from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes
    except ImportError:
        sys.exit("bench/hashing.py needs python-threatexchange: bash bench/setup-venv.sh")
    from importlib.metadata import version

    model = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    )
    print(f"# bench/hashing.py — {args.photos} photos {WIDTH}x{HEIGHT}, JPEG quality {QUALITY}")
    print(
        f"\n{model}, {os.cpu_count()} cores; pinned to CPU {args.cpu}; Python "
        f"{platform.python_version()}, Pillow {PIL.__version__}, pdqhash {version('pdqhash')}, "
        f"ImageHash {version('ImageHash')}, threatexchange {version('threatexchange')}; "
        f"HASH_SIDE {HASH_SIDE}"
    )
    photos = [photo(args.seed + i) for i in range(args.photos)]
    sizes = [len(p) / 2**20 for p in photos]
    print(f"photos: {min(sizes):.1f}–{max(sizes):.1f} MiB each")
    refs = [reference(p) for p in photos]

    ours_ms, ours = timed(hash_bytes, photos, args.rounds)
    theirs_ms, theirs = timed(pdq_from_bytes, photos, args.rounds)
    ours_rate, theirs_rate = 1000 / ours_ms.mean(), 1000 / theirs_ms.mean()

    print(f"\n{args.rounds} rounds over the {args.photos} photos, one image at a time:\n")
    print("| | Vigil `hash_bytes` (5 hashes) | threatexchange `pdq_from_bytes` (PDQ) |")
    print("| --- | ---: | ---: |")
    print(f"| images/s | {ours_rate:.2f} | {theirs_rate:.2f} |")
    for q in (50, 95):
        print(
            f"| ms per image, p{q} | {np.percentile(ours_ms, q):.1f} | "
            f"{np.percentile(theirs_ms, q):.1f} |"
        )
    print(f"| ms per image, mean | {ours_ms.mean():.1f} | {theirs_ms.mean():.1f} |")

    rows = []
    for i, (r, o, t) in enumerate(zip(refs, ours, theirs, strict=True)):
        rows.append(
            (
                i,
                r["quality"],
                o["pdq_quality"],
                distance(o["pdq"], r["pdq"]),
                distance(t[0], r["pdq"]),
                distance(o["phash"], r["phash"]),
                distance(o["dhash"], r["dhash"]),
            )
        )
    print("\nDistance (bits) from the full-resolution reference, per photo:\n")
    print(
        "| photo | reference quality | Vigil quality | Vigil PDQ | threatexchange PDQ "
        "| Vigil pHash | Vigil dHash |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")

    counted = [row for row in rows if row[1] >= 80]
    worst = max((row[3] for row in counted), default=0)
    ratio = ours_rate / theirs_rate
    verdicts = [
        ("≥ 5× the throughput of `pdq_from_bytes`", ratio >= 5, f"{ratio:.1f}×"),
        (
            "PDQ within 10 bits of full resolution (quality ≥ 80)",
            bool(counted) and worst <= 10,
            f"{len(counted)} of {len(rows)} photos of quality ≥ 80, at most {worst} bits, "
            f"mean {np.mean([row[3] for row in counted]):.1f}",
        ),
    ]
    print("\n| target | result |\n| --- | --- |")
    for what, ok, detail in verdicts:
        print(f"| {what} | {'PASS' if ok else 'FAIL'}: {detail} |")
    sys.exit(0 if all(ok for _, ok, _ in verdicts) else 1)


if __name__ == "__main__":
    main()
