"""Make sure every enforcement action reaches the platform: runs the webhook deliveries that are due.

In the embedded mode (no Redis) the server's background scheduler (moderation/periodic/embedded.py)
makes the same pass every 15 seconds, retrying deliveries the platform did not accept the first
time; run this when no server runs. With Redis, RQ retries and this (like the relay loop, which
does the same) only queues again deliveries whose job was lost.
"""

import time

from django.core.management.base import BaseCommand

from moderation.enforcement.delivery import deliveries_sweep, delivery_configured


class Command(BaseCommand):
    help = "Deliver due enforcement-action webhooks: once with --once, else every --interval s."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=15.0, help="Seconds between passes.")

    def handle(self, *args, once=False, interval=15.0, **options):
        if not delivery_configured():
            self.stdout.write(
                "PLATFORM_WEBHOOK_URL is not set: delivery is not configured; actions stay "
                "pending until it is."
            )
            return
        while True:
            handled = deliveries_sweep()
            if handled or once:
                self.stdout.write(f"handled {handled} due deliver{'y' if handled == 1 else 'ies'}")
            if once:
                return
            time.sleep(interval)
