"""Delete the evidence of submitted reports whose preservation is over and that no hold keeps.

With Redis, a daily scheduled job does the same (moderation/periodic/services.py); in the embedded
mode the server's background scheduler does (moderation/periodic/embedded.py). Run this by hand, or
from cron when no server runs. --dry-run says what would go and changes nothing.
"""

from django.core.management.base import BaseCommand

from moderation.escalations.custody import evidence_purge_expired


class Command(BaseCommand):
    help = "Delete evidence whose preservation period has ended and which is under no legal hold."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; delete nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        results = evidence_purge_expired(dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        for r in results:
            packet = "packet" if r.packet else "no packet"
            self.stdout.write(
                f"escalation {r.escalation_id}: {verb} {packet} and {len(r.deleted)} file(s)"
                + (f", {len(r.missing)} already missing" if r.missing else "")
                + (f", kept {len(r.kept)} still needed" if r.kept else "")
            )
            for k in r.kept:
                self.stdout.write(f"  kept {k['sha256']}: {k['reason']}")
        self.stdout.write(f"{len(results)} escalation(s) {'to purge' if dry_run else 'purged'}.")
