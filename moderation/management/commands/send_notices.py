"""Make sure every reporter who asked to hear back is told: sends the reporter notices that are due.

In the embedded mode (no Redis) the server's background scheduler (moderation/periodic/embedded.py)
makes the same pass every 15 seconds, retrying notices the mail server did not take the first
time; run this when no server runs. With Redis, RQ retries and this (like the relay loop, which
does the same) only queues again notices whose job was lost.
"""

import time

from django.core.management.base import BaseCommand

from moderation.notices.services import notices_sweep


class Command(BaseCommand):
    help = "Send due reporter notices: once with --once, else every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=15.0, help="Seconds between passes.")

    def handle(self, *args, once=False, interval=15.0, **options):
        while True:
            handled = notices_sweep()
            if handled or once:
                self.stdout.write(f"handled {handled} due notice{'' if handled == 1 else 's'}")
            if once:
                return
            time.sleep(interval)
