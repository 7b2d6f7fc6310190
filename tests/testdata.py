"""Test data kept in the repository, so the suite runs from a bare clone.

PDQ: Meta's reference images and the hashes the reference C++ tool gives for them (BSD licence;
tests/data/pdq/README.md), copied from ../shared/testdata/pdq/.
"""

from pathlib import Path

PDQ = Path(__file__).resolve().parent / "data" / "pdq"
