"""Test data kept in the repository, so the suite runs from a bare clone.

PDQ: Meta's reference images and the hashes the reference C++ tool gives for them (BSD licence;
tests/data/pdq/README.md), copied from ../shared/testdata/pdq/.
"""

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
