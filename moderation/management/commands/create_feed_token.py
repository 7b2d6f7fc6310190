"""Create a partner platform's feed token for published banks and print it once."""

from django.core.management.base import BaseCommand, CommandError

from moderation.banks.models import HashBank
from moderation.exchanges.feed_tokens import FeedTokenRefused, feed_token_create


class Command(BaseCommand):
    help = (
        "Create a feed token for a partner platform to read published banks "
        "(GET /api/v1/feeds/<bank>, docs/feeds.md) and print it: it cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Who it is for, e.g. 'partner-x'.")
        parser.add_argument(
            "--bank",
            action="append",
            required=True,
            dest="banks",
            metavar="SLUG",
            help="A published bank it may read (repeat for more).",
        )

    def handle(self, *args, name, banks, **options):
        found = {b.slug: b for b in HashBank.objects.filter(slug__in=banks)}
        unknown = sorted(set(banks) - set(found))
        if unknown:
            raise CommandError(f"No bank {', '.join(unknown)}.")
        try:
            row, token = feed_token_create(
                name=name, banks=list(found.values()), actor_label="manage.py create_feed_token"
            )
        except FeedTokenRefused as e:
            raise CommandError(str(e)) from None
        self.stderr.write(
            f"Feed token {row.name!r} for {', '.join(sorted(found))}. Store it now: it is not "
            "kept and cannot be shown again."
        )
        self.stdout.write(token)
