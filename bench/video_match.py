"""Matching a video against a large vPDQ bank: latency of one query video, and exactness.

A bank of 100,000 videos of 60 sampled frames (6,000,000 frame hashes) in Vigil's frame index
(moderation/banks/frame_index.py), as workers match it in production: written once as an index
snapshot's files (moderation/banks/snapshot.files_write) and memory-mapped behind a FrameIndex.
The videos are made of scenes: each scene a random PDQ, its frames that hash with a few bits
flipped (as consecutive frames of one shot hash), a tenth of the frames below the quality filter.
Queries are videos of 60 frames: re-encodes of bank videos (each frame 0-20 bits off; they match),
trims of them (a 20-40 frame window, re-encoded: they match their source's frames but not 80% of
them) and unrelated videos, a third each. Each is matched by `match_video` at the reference's
settings (distance 31, quality 50, compared 80%, query 0%), one at a time, after one warm-up pass
over all of them (the page cache holds the files, as in a worker that has been matching).

Exactness: a sample of the queries is checked against brute force (each query frame compared
with all 6,000,000 frames, then the reference's percentages for every bank video), entries and
percentages alike.

Measured on one pinned core. No database: the index is built straight from arrays.

    .venv/bin/python bench/video_match.py [--videos 100000 --frames 60 --queries 300 --brute 20]
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()  # the bank models are imported; no database is touched

from moderation.banks.frame_index import BankVideoParams, FrameIndex, FramePart  # noqa: E402
from moderation.banks.snapshot import files_map, files_write  # noqa: E402
from moderation.banks.video_matching import match_video  # noqa: E402
from reports.vpdq import FrameHash, is_match  # noqa: E402

DISTANCE, QUALITY = 31, 50
BANK = 1
PARAMS = {BANK: BankVideoParams(DISTANCE, QUALITY, 0.0, 80.0)}


def flips(rng, n: int, rate: float) -> np.ndarray:
    """n random 256-bit masks, each bit set with probability `rate`, as 4 uint64 words."""
    bits = rng.random((n, 256)) < rate
    return np.packbits(bits, axis=1).view(">u8").astype(np.uint64)


def make_bank(rng, videos: int, frames: int) -> dict[str, np.ndarray]:
    n = videos * frames
    words = np.empty((n, 4), np.uint64)
    chunk = 50_000 // frames * frames
    for start in range(0, n, chunk):
        end = min(n, start + chunk)
        k = end - start
        # Scenes of 5 to 30 frames: a base hash per scene, frames a few bits off it.
        scene = np.cumsum(rng.random(k) < 1 / 12)
        bases = rng.integers(0, 2**64, (scene[-1] + 1, 4), dtype=np.uint64)
        words[start:end] = bases[scene] ^ flips(rng, k, 0.02)
    entry = np.repeat(np.arange(1, videos + 1, dtype=np.int64), frames)
    quality = np.where(rng.random(n) < 0.1, rng.integers(0, 50, n), rng.integers(50, 101, n))
    time_ = np.tile(np.arange(frames, dtype=np.float32), videos)
    # One row per distinct frame of each video (the index's rule), first occurrence kept.
    key = np.empty(n, dtype=[("e", "<i8"), ("w", "<u8", (4,))])
    key["e"], key["w"] = entry, words
    _, first = np.unique(key, return_index=True)
    first.sort()
    return {
        "words": words[first],
        "entry": entry[first],
        "quality": quality[first].astype(np.int16),
        "time": time_[first],
        "bank": np.full(len(first), BANK, np.int32),
    }


def to_frames(words: np.ndarray, quality: np.ndarray) -> list[FrameHash]:
    return [
        FrameHash(i, float(i), int(q), w.astype(">u8").tobytes().hex())
        for i, (w, q) in enumerate(zip(words, quality, strict=True))
    ]


def make_queries(rng, bank: dict, videos: int, frames: int, count: int):
    entry = bank["entry"]
    starts = np.searchsorted(entry, np.arange(1, videos + 2))
    queries = []
    for i in range(count):
        kind = ("reencode", "trim", "unrelated")[i % 3]
        if kind == "unrelated":
            words = rng.integers(0, 2**64, (frames, 4), dtype=np.uint64)
            quality = rng.integers(50, 101, frames)
        else:
            source = int(rng.integers(1, videos + 1))
            rows = slice(starts[source - 1], starts[source])
            words, quality = bank["words"][rows], bank["quality"][rows]
            if kind == "trim":
                length = int(rng.integers(20, 41))
                at = int(rng.integers(0, max(1, len(words) - length)))
                words, quality = words[at : at + length], quality[at : at + length]
            bits = rng.random((len(words), 256)) < rng.random((len(words), 1)) * (20 / 256)
            words = words ^ np.packbits(bits, axis=1).view(">u8").astype(np.uint64)
        queries.append((kind, to_frames(words, quality)))
    return queries


def brute_force(bank: dict, counts: dict, query: list[FrameHash]) -> dict[int, tuple]:
    """The reference comparison against every bank video, by comparing every frame."""
    seen, unique = set(), []
    for f in query:
        if f.pdq not in seen:
            seen.add(f.pdq)
            if f.quality >= QUALITY:
                unique.append(f)
    if not unique:
        return {}
    words, entry = bank["words"], bank["entry"]
    usable = bank["quality"] >= QUALITY
    q_hit, c_hit = defaultdict(set), defaultdict(set)
    for i, f in enumerate(unique):
        q = np.frombuffer(bytes.fromhex(f.pdq), ">u8").astype(np.uint64)
        near = np.flatnonzero((np.bitwise_count(words ^ q).sum(axis=1) <= DISTANCE) & usable)
        for row in near.tolist():
            q_hit[int(entry[row])].add(i)
            c_hit[int(entry[row])].add(row)
    found = {}
    for e in q_hit:
        percents = (len(q_hit[e]) * 100.0 / len(unique), len(c_hit[e]) * 100.0 / counts[e])
        if is_match(percents):
            found[e] = (round(percents[0], 2), round(percents[1], 2))
    return found


def anonymous_mb() -> float:
    """This process's anonymous memory (heap, arrays): what no other process could share. The
    snapshot's mapped files are not in it: mapped by one process they count as its private clean
    pages, mapped by every worker they are one copy in the page cache."""
    with open("/proc/self/smaps_rollup") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["Anonymous"].split()[0]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--brute", type=int, default=20)
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    rng = np.random.default_rng(args.seed)
    print(
        f"# bench/video_match.py — {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, pinned to CPU {args.cpu}, numpy {np.__version__}"
    )
    t = time.perf_counter()
    bank = make_bank(rng, args.videos, args.frames)
    print(
        f"bank: {args.videos:,} videos, {len(bank['words']):,} distinct frames "
        f"({time.perf_counter() - t:.1f} s to generate)"
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("VIGIL_BENCH_TMP")) as tmp:
        path = Path(tmp) / "vpdq-bench"
        t = time.perf_counter()
        files_write(path, arrays=bank, tmax=DISTANCE, high_water=args.videos, signal_type="vpdq")
        write = time.perf_counter() - t
        files_mb = sum(f.stat().st_size for f in path.iterdir()) / 2**20
        before = anonymous_mb()
        t = time.perf_counter()
        meta, arrays, multi = files_map(path)
        index = FrameIndex([FramePart(arrays, multi)], PARAMS)
        load = time.perf_counter() - t
        print(
            f"snapshot files: {files_mb:,.0f} MB written in {write:.1f} s; mapped and ready "
            f"in {load:.2f} s; plan {meta['plan']}"
        )
        queries = make_queries(rng, bank, args.videos, args.frames, args.queries)
        for _, q in queries:  # warm-up: the files into the page cache
            match_video(q, index, interval=1.0)
        times, hits = defaultdict(list), defaultdict(int)
        for kind, q in queries:
            t = time.perf_counter()
            found = match_video(q, index, interval=1.0)
            times[kind].append((time.perf_counter() - t) * 1000)
            hits[kind] += len(found)
        own = anonymous_mb() - before
        every = np.array([x for v in times.values() for x in v])
        print(f"\nquery video of {args.frames} frames, one at a time ({len(every)} queries), ms:")
        print(f"{'queries':<12}{'n':>5}{'p50':>9}{'p95':>9}{'p99':>9}{'matches':>9}")
        for kind in ("reencode", "trim", "unrelated"):
            v = np.array(times[kind])
            print(
                f"{kind:<12}{len(v):>5}{np.percentile(v, 50):>9.2f}{np.percentile(v, 95):>9.2f}"
                f"{np.percentile(v, 99):>9.2f}{hits[kind]:>9}"
            )
        p50 = np.percentile(every, 50)
        print(
            f"{'all':<12}{len(every):>5}{p50:>9.2f}{np.percentile(every, 95):>9.2f}"
            f"{np.percentile(every, 99):>9.2f}"
        )
        print(
            f"anonymous memory the index and the queries added: {own:,.0f} MB (the "
            f"{files_mb:,.0f} MB of mapped files are page cache, one copy for every worker)"
        )
        ids, per = np.unique(bank["entry"][bank["quality"] >= QUALITY], return_counts=True)
        counts = dict(zip(ids.tolist(), per.tolist(), strict=True))
        sample = queries[:: max(1, len(queries) // args.brute)][: args.brute]
        t = time.perf_counter()
        agree = sum(
            {
                h.entry_id: (h.query_percent, h.compared_percent)
                for h in match_video(q, index, interval=1.0)
            }
            == brute_force(bank, counts, q)
            for _, q in sample
        )
        print(
            f"\nexact against brute force: {agree} of {len(sample)} queries agree (entries and "
            f"percentages; brute force {time.perf_counter() - t:.0f} s)"
        )
        print(
            f"target p50 <= 20 ms: {'PASS' if p50 <= 20 else 'FAIL'} ({p50:.2f} ms); "
            f"exact: {'PASS' if agree == len(sample) else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
