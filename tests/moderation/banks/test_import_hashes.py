import io

import pytest
from django.core.management import CommandError, call_command

from moderation.banks.models import BankEntry, HashBank


@pytest.fixture
def bank(db):
    return HashBank.objects.create(name="Known", slug="known", signal_types=["pdq", "md5"])


def run(name, *args):
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
class TestImportExport:
    def test_it_imports_threatexchange_csv_and_lines(self, bank, tmp_path):
        f = tmp_path / "list.csv"
        f.write_text(
            "signal_type,signal_str,tags\npdq,"
            + "a" * 64
            + ",ncmec csam\nvideo_md5,"
            + "b" * 32
            + "\n"
        )
        assert "2 added" in run("import_hashes", "--bank", "known", str(f))
        g = tmp_path / "list.txt"
        g.write_text("# comment\npdq " + "c" * 64 + "\n\npdq " + "a" * 64 + "\n")
        assert "1 added, 1 already present" in run("import_hashes", "--bank", "known", str(g))
        assert BankEntry.objects.get(value="a" * 64).labels == ["ncmec csam"]
        # A bank of MD5s takes a list's video MD5s, as what they are.
        assert BankEntry.objects.filter(signal_type="video_md5").count() == 1

    def test_a_bad_line_imports_nothing_and_is_named(self, bank, tmp_path):
        f = tmp_path / "list.txt"
        f.write_text(
            "pdq " + "a" * 64 + "\npdq nothex\nsha256 " + "b" * 64 + "\nfoo " + "c" * 32 + "\nmd5\n"
        )
        with pytest.raises(CommandError) as e:
            run("import_hashes", "--bank", "known", str(f))
        message = str(e.value)
        assert "Nothing imported: 4 bad line(s)" in message
        assert "line 2: a pdq hash is 64 hex digits" in message
        assert "line 3: this bank does not hold sha256 hashes" in message
        assert "line 4: unknown signal type 'foo'" in message
        assert "line 5: expected a signal type and a hash" in message
        assert BankEntry.objects.count() == 0

    def test_it_refuses_an_unknown_bank_and_an_unreadable_file(self, bank, tmp_path):
        with pytest.raises(CommandError, match="No bank"):
            run("import_hashes", "--bank", "nope", str(tmp_path / "x"))
        with pytest.raises(CommandError, match="Cannot read"):
            run("import_hashes", "--bank", "known", str(tmp_path / "missing"))

    def test_export_round_trips(self, bank, tmp_path):
        f = tmp_path / "list.txt"
        f.write_text("pdq " + "a" * 64 + "\nmd5 " + "b" * 32 + "\n")
        run("import_hashes", "--bank", "known", str(f))
        csv_out = run("export_hashes", "--bank", "known")
        assert csv_out.splitlines()[0] == "signal_type,signal_str,labels"
        lines_out = run("export_hashes", "--bank", "known", "--format", "lines")
        assert lines_out.splitlines() == ["pdq " + "a" * 64, "md5 " + "b" * 32]
        other = HashBank.objects.create(name="Copy", slug="copy", signal_types=["pdq", "md5"])
        g = tmp_path / "export.csv"
        g.write_text(csv_out)
        assert "2 added" in run("import_hashes", "--bank", "copy", str(g))
        assert set(other.entries.values_list("value", flat=True)) == {"a" * 64, "b" * 32}
