"""Recompute the priority of open cases whose waiting time has grown since it was last computed."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from moderation.cases.rollup import cases_refresh_waiting


class Command(BaseCommand):
    help = "Recompute priorities of open cases not recomputed for --minutes (default 10)."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=10)

    def handle(self, *args, minutes=10, **options):
        total = 0
        while refreshed := cases_refresh_waiting(stale_after=timedelta(minutes=minutes)):
            total += refreshed
        self.stdout.write(f"refreshed {total} case(s)")
