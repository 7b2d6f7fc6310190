"""PDQ agrees with Meta's reference hasher on its own test vectors (tests/data/pdq/)."""

import csv

import pytest

from reports.hashing import hash_bytes, pdq_dihedral
from tests.testdata import PDQ

TESTDATA = PDQ

EXPECTED = list(csv.DictReader((TESTDATA / "expected.csv").open()))


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def pdq_of(relative: str) -> dict:
    return hash_bytes((TESTDATA / relative).read_bytes())


def test_the_reference_vectors_are_there():
    assert len(EXPECTED) == 16, f"reference vectors not found under {TESTDATA}"


@pytest.mark.parametrize("row", EXPECTED, ids=[r["file"] for r in EXPECTED])
def test_pdq_matches_the_reference(row):
    got = pdq_of(row["file"])
    d = distance(got["pdq"], row["pdq"])
    if row["file"].startswith("dih/") or row["file"] == "pen-and-coaster.png":
        assert d == 0
        assert got["pdq_quality"] == int(row["quality"])
    elif int(row["quality"]) >= 80:
        assert d <= 10
    else:
        assert got["pdq_quality"] < 50  # too weak to match on, as the reference says


@pytest.mark.parametrize("mode", ["CMYK.jpg", "L.png", "LA.png", "P.png", "RGBA.png"])
def test_every_mode_hashes_like_the_original(mode):
    original = pdq_of("modes/original.jpg")["pdq"]
    assert distance(pdq_of(f"modes/{mode}")["pdq"], original) <= 10


def test_the_eight_dihedral_variants_are_the_rotated_and_mirrored_images():
    variants = pdq_dihedral((TESTDATA / "dih/bridge-1-original.jpg").read_bytes())
    expected = {row["pdq"] for row in EXPECTED if row["file"].startswith("dih/")}
    assert len(variants) == 8
    for variant in variants:
        assert min(distance(variant, e) for e in expected) <= 10
    assert variants[0] == pdq_of("dih/bridge-1-original.jpg")["pdq"]
