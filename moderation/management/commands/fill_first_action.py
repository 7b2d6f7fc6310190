"""Fill Case.first_action_at where it is missing, as migration 0030 did for existing cases.

Run once after a release that includes 0030 is fully deployed: web and worker processes of the
previous release, still running while the migration ran, wrote decisions without it. Idempotent,
and it only touches cases that still have no first action (or an automated action earlier than
the one recorded)."""

import importlib

from django.core.management.base import BaseCommand
from django.db import connection, transaction


class Command(BaseCommand):
    help = "Fill Case.first_action_at for cases acted on without it (after deploying 0030)."

    def handle(self, *args, **options):
        backfill = importlib.import_module("moderation.migrations.0030_case_first_action")
        filled = 0
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in backfill.BACKFILL:
                cursor.execute(sql)
                filled += max(cursor.rowcount, 0)
        self.stdout.write(f"filled the first action of {filled} case(s)")
