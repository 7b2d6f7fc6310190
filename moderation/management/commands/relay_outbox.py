"""Hand jobs that could not reach Redis at commit time over to RQ once it answers again."""

import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lib.jobs import relay


class Command(BaseCommand):
    help = "Relay pending outbox jobs to RQ: once with --once, otherwise every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between passes.")
        parser.add_argument(
            "--min-age",
            type=float,
            default=10.0,
            help="Only relay jobs at least this many seconds old (younger ones are still being "
            "handed over by the request that created them).",
        )

    def handle(self, *args, once=False, interval=5.0, min_age=10.0, **options):
        if settings.JOBS_EAGER:
            raise CommandError("REDIS_URL is not set: jobs run in-process and there is no outbox.")
        older_than = timedelta(seconds=min_age)
        while True:
            relayed = relay(older_than=older_than)
            if relayed or once:
                self.stdout.write(f"relayed {relayed} job(s)")
            if once:
                return
            time.sleep(interval)
