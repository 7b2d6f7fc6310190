"""Create an API token and print it once."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken, User
from accounts.services import TokenRefused, api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it cannot be shown again)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username the token acts as.")
        parser.add_argument(
            "--name", required=True, help="What the token is for, e.g. 'platform-prod'."
        )
        parser.add_argument(
            "--scopes",
            help="Comma-separated subset of report,flag,read (default: all the user's role allows).",
        )
        parser.add_argument("--rate", type=int, help="Requests per minute (default 600).")

    def handle(self, *args, user, name, scopes=None, rate=None, **options):
        account = User.objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"No user {user!r}.")
        wanted = None
        if scopes:
            wanted = [s.strip() for s in scopes.split(",") if s.strip()]
            unknown = set(wanted) - set(ApiToken.Scope.values)
            if unknown:
                raise CommandError(f"Unknown scope(s): {', '.join(sorted(unknown))}.")
        try:
            row, token = api_token_create(
                user=account, name=name, scopes=wanted, rate_limit_per_minute=rate
            )
        except TokenRefused as e:
            raise CommandError(str(e)) from None
        self.stderr.write(
            f"Token {name!r} for {user} with scopes {', '.join(row.scopes)}. "
            "Store it now: it is not kept and cannot be shown again."
        )
        self.stdout.write(token)
