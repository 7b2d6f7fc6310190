"""Importing a hash list read as it comes, in chunks handed to the database (COPY on PostgreSQL),
all or nothing, with progress; the rematch names the import, never lists its entries."""

import numpy as np
import pytest

from moderation.banks import services
from moderation.banks.models import BankEntry, HashBank
from moderation.banks.services import ImportFailed, bank_import


def lines_of(values, kind="pdq"):
    return (f"{kind},{v},csam,a1\n" for v in values)


@pytest.fixture
def bank(db):
    return HashBank.objects.create(name="b", slug="b", signal_types=["pdq", "md5"])


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 100)


def random_hex(rng, n, nbytes=32):
    return [bytes(r).hex() for r in rng.integers(0, 256, (n, nbytes), dtype=np.uint8)]


@pytest.mark.django_db
class TestImportAtScale:
    def test_it_reads_lines_as_they_come_in_chunks_with_progress(self, bank, small_chunks):
        values = random_hex(np.random.default_rng(1), 1050)
        seen = []
        added, present = bank_import(bank=bank, lines=lines_of(values), progress=seen.append)
        assert (added, present) == (1050, 0)
        assert seen[:3] == [100, 200, 300] and seen[-1] == 1050
        entry = BankEntry.objects.get(value=values[7])
        assert entry.labels == ["csam", "a1"] and entry.signal_type == "pdq"

    def test_repeats_in_the_file_and_hashes_already_listed_count_as_present(
        self, bank, small_chunks
    ):
        values = random_hex(np.random.default_rng(2), 300)
        bank_import(bank=bank, lines=lines_of(values[:100]))
        added, present = bank_import(bank=bank, lines=lines_of(values + values[250:]))
        assert (added, present) == (200, 150)
        assert BankEntry.objects.filter(bank=bank).count() == 300

    def test_a_bad_line_after_many_chunks_imports_nothing(self, bank, small_chunks):
        values = random_hex(np.random.default_rng(3), 700)
        lines = [*lines_of(values[:650]), "pdq,nothex\n", *lines_of(values[650:]), "sha1,ab\n"]
        with pytest.raises(ImportFailed) as e:
            bank_import(bank=bank, lines=iter(lines))
        assert e.value.errors[0].startswith("line 651:")
        assert e.value.errors[1].startswith("line 702: unknown signal type")
        assert not BankEntry.objects.exists()

    def test_it_names_the_first_bad_lines_and_counts_the_rest(self, bank, monkeypatch):
        monkeypatch.setattr(services, "MAX_ERRORS_LISTED", 3)
        with pytest.raises(ImportFailed) as e:
            bank_import(bank=bank, lines=iter(["pdq,x\n"] * 10))
        assert len(e.value.errors) == 4
        assert e.value.errors[-1] == "... and 7 more bad lines"


@pytest.mark.django_db
def test_the_command_reads_a_file_as_it_goes(bank, tmp_path, small_chunks):
    from django.core.management import call_command

    values = random_hex(np.random.default_rng(4), 250, nbytes=16)
    path = tmp_path / "list.csv"
    path.write_text("signal_type,signal_str\n" + "".join(lines_of(values, "md5")))
    call_command("import_hashes", "--bank", "b", str(path))
    assert BankEntry.objects.filter(bank=bank, signal_type="md5").count() == 250


@pytest.mark.django_db
def test_video_entries_are_chunked_by_their_frames(small_chunks):
    """A vPDQ entry writes a row per frame: a chunk holds CHUNK rows, not CHUNK videos (a list
    of 50,000 hour-long videos would not fit in memory)."""
    from moderation.banks.models import BankEntryFrame
    from reports.vpdq import FrameHash, to_signal

    bank = HashBank.objects.create(name="v", slug="v", signal_types=["vpdq"])
    rng = np.random.default_rng(3)
    videos = [
        [FrameHash(n, float(n), 90, h) for n, h in enumerate(random_hex(rng, 30))]
        for _ in range(20)
    ]
    seen = []
    added, _ = bank_import(
        bank=bank, lines=(f"vpdq {to_signal(v)}\n" for v in videos), progress=seen.append
    )
    assert added == 20
    # 31 rows a video: a chunk of 100 rows is cut after every fourth video.
    assert seen[:3] == [4, 8, 12] and seen[-1] == 20
    assert BankEntryFrame.objects.filter(entry__bank=bank).count() == 20 * 30
