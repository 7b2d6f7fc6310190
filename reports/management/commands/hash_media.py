"""Hash image files the way Vigil does, one JSON line per file."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from reports.hashing import hash_bytes


class Command(BaseCommand):
    help = "Print file, sha256, md5, pdq, pdq_quality, phash and dhash of each FILE as a JSON line."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args, files, **options):
        failed = False
        for name in files:
            try:
                data = Path(name).read_bytes()
            except OSError as e:
                self.stdout.write(json.dumps({"file": name, "error": str(e)}))
                failed = True
                continue
            hashes = hash_bytes(data)
            line = {
                "file": name,
                "sha256": hashes["sha256"],
                "md5": hashes["md5"],
                "pdq": hashes.get("pdq"),
                "pdq_quality": hashes.get("pdq_quality"),
                "phash": hashes.get("phash"),
                "dhash": hashes.get("dhash"),
            }
            if "unhashable" in hashes:
                line["unhashable"] = hashes["unhashable"]
            self.stdout.write(json.dumps(line))
        if failed:
            raise SystemExit(1)
