"""Hand jobs that could not reach Redis at commit time over to RQ once it answers again, queue
again the hashing of media, the assembly of escalation packets, webhook deliveries and reporter
notices whose job Redis lost, and keep the periodic priority refresh scheduled. Run one or more
of these beside the workers."""

import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from moderation.enforcement.delivery import deliveries_sweep
from moderation.escalations.packet import escalations_requeue_stale
from moderation.notices.services import notices_sweep
from moderation.outbox.services import outbox_prune, relay
from moderation.periodic.services import waiting_refresh_schedule
from reports.links import links_requeue_pending
from reports.services import media_requeue_unhashed

# Media unhashed this long after arrival have lost their job.
SWEEP_AGE = timedelta(minutes=10)
SWEEP_INTERVAL_SECONDS = 60
# Relayed outbox rows are kept this long (for looking into incidents), then deleted.
KEEP_RELAYED = timedelta(days=7)


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
        next_sweep = 0.0
        while True:
            relayed = relay(older_than=older_than)
            if relayed or once:
                self.stdout.write(f"relayed {relayed} job(s)")
            if time.monotonic() >= next_sweep:
                # Jobs Redis accepted and then lost (a restart without persistence) are found by
                # what they left undone.
                requeued = media_requeue_unhashed(older_than=SWEEP_AGE)
                if requeued or once:
                    self.stdout.write(f"queued hashing again for {requeued} media")
                # Links whose fetch job was lost (RQ's own retries are over well before this).
                links = links_requeue_pending(older_than=SWEEP_AGE)
                if links or once:
                    self.stdout.write(f"queued fetching again for {links} links")
                # Webhook deliveries whose job Redis lost are queued again, so none is forgotten.
                deliveries_sweep()
                # And reporter notices whose job Redis lost, so every reporter who asked is told.
                notices_sweep()
                # So are packet assemblies left in ASSEMBLING with no progress for a while.
                escalations_requeue_stale()
                outbox_prune(older_than=KEEP_RELAYED)
                # Waiting time counts towards priority: make sure the periodic job's chain is
                # scheduled (idempotent: one job per time slot), e.g. after Redis lost it.
                waiting_refresh_schedule()
                next_sweep = time.monotonic() + SWEEP_INTERVAL_SECONDS
            if once:
                return
            time.sleep(interval)
