"""Test data kept in the repository, so the suite runs from a bare clone.

PDQ: Meta's reference images and the hashes the reference C++ tool gives for them (BSD licence;
tests/data/pdq/README.md), copied from ../shared/testdata/pdq/.
"""

from functools import cache
from pathlib import Path

PDQ = Path(__file__).resolve().parent / "data" / "pdq"
# vPDQ: Meta's sample videos and the reference tool's per-frame output (tests/data/vpdq/README.md).
VPDQ = Path(__file__).resolve().parent / "data" / "vpdq"
VPDQ_VIDEOS = sorted(p.stem for p in (VPDQ / "videos").glob("*.mp4"))


def vpdq_reference(name: str, release: str = "0.2.5") -> list[tuple[int, int, str, float]]:
    """(frame, quality, pdq, timestamp) per line of a reference output file."""
    rows = []
    for line in (VPDQ / f"reference-{release}" / f"{name}.txt").read_text().splitlines():
        frame, quality, pdq, timestamp = line.split(",")
        rows.append((int(frame), int(quality), pdq, float(timestamp)))
    return rows


@cache
def vigil_every_frame(name: str):
    """Vigil's vPDQ of a sample video, every frame (hashed once per test run)."""
    from reports.video import vpdq_hash

    return vpdq_hash(VPDQ / "videos" / f"{name}.mp4", seconds_per_hash=0, prune_distance=0)


def frame_png(name: str, number: int) -> bytes:
    """Frame `number` of a sample video as a PNG (a still taken from a known video)."""
    import io

    import av

    with av.open(str(VPDQ / "videos" / f"{name}.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == number:
                out = io.BytesIO()
                frame.to_image().save(out, format="PNG")
                return out.getvalue()
    raise ValueError(f"{name} has no frame {number}")
