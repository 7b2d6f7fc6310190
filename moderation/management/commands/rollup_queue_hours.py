"""Rebuild queue health's hourly figures for the last --days days (default 30).

The periodic chain (or, in the embedded mode, the queue health page) keeps only the last few
hours up to date. Run this once after installing, and after the workers were down for longer than
that, so the 30-day charts have their older days. Safe to run at any time: it rebuilds, one day
at a time, exactly what the periodic runs would have written.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from moderation.supervision.queue_health import HOUR, hour_floor, queue_hours_recompute


class Command(BaseCommand):
    help = "Rebuild queue health's hourly arrivals and decisions for the last N days."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args, days=30, **options):
        end = hour_floor(timezone.now()) + HOUR
        start = end - timedelta(days=days)
        rows = 0
        while start < end:
            chunk_end = min(start + timedelta(days=1), end)
            rows += queue_hours_recompute(start=start, end=chunk_end)
            start = chunk_end
        self.stdout.write(f"{rows} queue-hours with arrivals or decisions over {days} days")
