"""Export a bank's live hashes."""

from django.core.management.base import BaseCommand, CommandError

from moderation.banks.models import HashBank
from moderation.banks.services import bank_export


class Command(BaseCommand):
    help = "Print a bank's hashes as python-threatexchange CSV (default) or '<type> <hash>' lines."

    def add_arguments(self, parser):
        parser.add_argument("--bank", required=True, help="The bank's slug.")
        parser.add_argument("--format", choices=["csv", "lines"], default="csv")

    def handle(self, *args, bank, format, **options):
        target = HashBank.objects.filter(slug=bank).first()
        if target is None:
            raise CommandError(f"No bank {bank!r}.")
        for chunk in bank_export(bank=target, fmt=format):
            self.stdout.write(chunk, ending="")
