"""Recompute content items' URL keys by the canonical URL, as migration 0009 did.

Run once after a release that includes reports 0009 is fully deployed: processes of the previous
release, still running while the migration ran, created items keyed by the previous rule, which
reports with another spelling of the same link would not find. Idempotent: only keys that are not
canonical yet change, and an item whose canonical key another item has keeps its own (see the
migration's docstring)."""

import importlib

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Recompute content items' URL keys by the canonical URL (after deploying reports 0009)."

    def handle(self, *args, **options):
        migration = importlib.import_module("reports.migrations.0009_canonical_url_keys")
        changed, kept = migration.recompute(apps)
        self.stdout.write(
            f"recomputed the URL keys of {changed} content item(s); {kept} keep an older key "
            "because another item has their canonical one"
        )
