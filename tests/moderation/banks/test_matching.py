import random

import pytest

from moderation.banks.index import MalformedHash, parse_hex
from moderation.banks.matching import find_matches, forget_indexes
from moderation.banks.models import BankEntry, HashBank
from moderation.banks.services import bank_entry_remove, bank_import
from tests.testdata import PDQ


def flip(hex_value: str, bits: int, rng: random.Random) -> str:
    n = int(hex_value, 16)
    for b in rng.sample(range(len(hex_value) * 4), bits):
        n ^= 1 << b
    return f"{n:0{len(hex_value)}x}"


@pytest.fixture(autouse=True)
def fresh_indexes():
    forget_indexes()
    yield
    forget_indexes()


@pytest.fixture
def bank(db):
    return HashBank.objects.create(
        name="Known material", slug="known", signal_types=["pdq", "phash", "dhash", "md5", "sha256"]
    )


def brute_force(query: str, entries: dict[int, str], threshold: int) -> set[tuple[int, int]]:
    return {
        (pk, d)
        for pk, value in entries.items()
        if (d := (int(query, 16) ^ int(value, 16)).bit_count()) <= threshold
    }


@pytest.mark.django_db
class TestMatcher:
    def test_it_returns_exactly_what_brute_force_returns(self, bank):
        rng = random.Random(7)
        values = [f"{rng.getrandbits(256):064x}" for _ in range(300)]
        bank_import(bank=bank, text="\n".join(f"pdq {v}" for v in values))
        entries = dict(BankEntry.objects.values_list("pk", "value"))
        queries = [flip(rng.choice(values), rng.randint(0, 40), rng) for _ in range(200)]
        queries += [f"{rng.getrandbits(256):064x}" for _ in range(50)]
        for q in queries:
            got = {(h.entry_id, h.distance) for h in find_matches(pdq_variants=[q])}
            assert got == brute_force(q, entries, 31)

    def test_the_threshold_is_inclusive(self, bank):
        rng = random.Random(1)
        value = f"{rng.getrandbits(256):064x}"
        bank_import(bank=bank, text=f"pdq {value}")
        assert [h.distance for h in find_matches(pdq_variants=[flip(value, 31, rng)])] == [31]
        assert find_matches(pdq_variants=[flip(value, 32, rng)]) == []

    def test_a_rotated_copy_matches_through_its_dihedral_variant(self, bank):

        from reports.hashing import perceptual_hashes

        testdata = PDQ / "dih"
        original = perceptual_hashes((testdata / "bridge-1-original.jpg").read_bytes())
        bank_import(bank=bank, text=f"pdq {original.pdq}")
        rotated = perceptual_hashes((testdata / "bridge-2-rotate-90.jpg").read_bytes())
        assert find_matches(pdq_variants=[rotated.pdq]) == []  # as stored it does not match
        hits = find_matches(pdq_variants=list(rotated.pdq_dihedral))
        assert len(hits) == 1 and hits[0].variant != 0 and hits[0].distance <= 31

    def test_weak_pdq_hashes_are_not_matched(self, bank):
        value = "ab" * 32
        bank_import(bank=bank, text=f"pdq {value}")
        assert find_matches(pdq_variants=[value], pdq_quality=49) == []
        assert len(find_matches(pdq_variants=[value], pdq_quality=50)) == 1

    def test_each_bank_has_its_own_threshold(self, bank):
        strict = HashBank.objects.create(
            name="Strict", slug="strict", signal_types=["phash"], thresholds={"phash": 2}
        )
        rng = random.Random(3)
        value = f"{rng.getrandbits(64):016x}"
        bank_import(bank=bank, text=f"phash {value}")
        bank_import(bank=strict, text=f"phash {value}")
        hits = find_matches(phash=flip(value, 5, rng))
        assert [BankEntry.objects.get(pk=h.entry_id).bank.slug for h in hits] == ["known"]

    def test_exact_hashes_match_by_equality(self, bank):
        bank_import(bank=bank, text="md5 " + "a" * 32 + "\nsha256 " + "b" * 64)
        assert [h.signal_type for h in find_matches(md5="a" * 32, sha256="b" * 64)] == [
            "md5",
            "sha256",
        ]
        assert find_matches(md5="c" * 32) == []

    def test_new_and_removed_entries_take_effect_within_seconds(self, bank, monkeypatch):
        import time

        from moderation.banks import matching

        value = "cd" * 32
        assert find_matches(pdq_variants=[value]) == []
        bank_import(bank=bank, text=f"pdq {value}")
        # Another process's index: stale until its next check, at most REFRESH_SECONDS later.
        later = time.monotonic() + matching.REFRESH_SECONDS + 0.1
        monkeypatch.setattr(matching.time, "monotonic", lambda: later)
        assert len(find_matches(pdq_variants=[value])) == 1
        bank_entry_remove(entry=BankEntry.objects.get())
        later2 = later + matching.REFRESH_SECONDS + 0.1
        monkeypatch.setattr(matching.time, "monotonic", lambda: later2)
        assert find_matches(pdq_variants=[value]) == []

    def test_inactive_banks_do_not_match(self, bank):
        bank_import(bank=bank, text="pdq " + "ef" * 32)
        HashBank.objects.filter(pk=bank.pk).update(is_active=False)
        from moderation.banks.models import BankVersion

        BankVersion.bump()
        forget_indexes()
        assert find_matches(pdq_variants=["ef" * 32]) == []

    @pytest.mark.parametrize("value", ["xyz", "ab" * 31, "ab" * 33, ""])
    def test_malformed_values_are_refused(self, value):
        with pytest.raises(MalformedHash):
            parse_hex("pdq", value)
