"""Import a hash list into a bank, all or nothing."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from moderation.banks.models import HashBank
from moderation.banks.services import ImportFailed, bank_import


class Command(BaseCommand):
    help = (
        "Import hashes into a bank from python-threatexchange's CSV (signal_type,signal_str,...) "
        "or '<type> <hash>' lines. Nothing is imported if any line is bad."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bank", required=True, help="The bank's slug.")
        parser.add_argument("file", help="The hash list ('-' for standard input).")

    def handle(self, *args, bank, file, **options):
        target = HashBank.objects.filter(slug=bank).first()
        if target is None:
            raise CommandError(f"No bank {bank!r}.")

        def progress(read):
            self.stderr.write(f"\r{read:,} entries read", ending="")

        try:
            # Read as it goes: a list of ten million lines never sits in memory whole.
            with (
                open(sys.stdin.fileno(), encoding="utf-8", closefd=False)
                if file == "-"
                else open(Path(file), encoding="utf-8")
            ) as lines:
                added, present = bank_import(
                    bank=target,
                    lines=lines,
                    actor_label="manage.py import_hashes",
                    progress=progress,
                )
        except (OSError, UnicodeDecodeError) as e:
            raise CommandError(f"Cannot read {file}, nothing imported: {e}") from None
        except ImportFailed as e:
            shown = e.errors[:50]
            more = f"\n... and {len(e.errors) - 50} more" if len(e.errors) > 50 else ""
            raise CommandError(
                f"Nothing imported: {len(e.errors)} bad line(s).\n" + "\n".join(shown) + more
            ) from None
        self.stderr.write("")
        self.stdout.write(f"{target.slug}: {added} added, {present} already present.")
