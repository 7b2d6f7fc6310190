"""Hash image and video files the way Vigil does, one JSON line per file."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from reports.hashing import exact_hashes, hash_bytes
from reports.media import is_image_file
from reports.video import NotAVideo, VideoRejected, vpdq_hash

CHUNK = 1024 * 1024


class Command(BaseCommand):
    help = (
        "Print one JSON line per FILE: for an image file, sha256, md5, pdq, pdq_quality, phash "
        "and dhash; for a video file, sha256, md5, duration and vpdq (frame, timestamp, quality, "
        "pdq of the sampled frames)."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument(
            "--every-frame",
            action="store_true",
            help="Hash every frame of a video (default: one frame every "
            "VIGIL_VPDQ_SECONDS_PER_HASH seconds, as the settings say).",
        )

    def handle(self, *args, files, every_frame, **options):
        failed = False
        for name in files:
            try:
                line = self._hash(Path(name), every_frame=every_frame)
            except OSError as e:
                line = {"file": name, "error": str(e)}
                failed = True
            self.stdout.write(json.dumps(line))
        if failed:
            raise SystemExit(1)

    def _hash(self, path: Path, *, every_frame: bool) -> dict:
        with path.open("rb") as f:
            head = f.read(64 * 1024)
        if is_image_file(head):
            return self._image(path)
        with path.open("rb") as f:
            sha256, md5, _ = exact_hashes(iter(lambda: f.read(CHUNK), b""))
        line = {"file": str(path), "sha256": sha256, "md5": md5}
        try:
            video = vpdq_hash(
                path,
                seconds_per_hash=0 if every_frame else settings.VPDQ_SECONDS_PER_HASH,
            )
        except NotAVideo:
            return {**line, "unhashable": "not an image or a video Vigil can read"}
        # (A damaged image Pillow cannot even identify lands here too: said the same way.)
        except VideoRejected as e:
            return {**line, "unhashable": e.message}
        line.update(duration=video.duration, vpdq=[f.as_dict() for f in video.frames])
        if video.stopped:
            line["unhashable" if not video.frames else "stopped"] = video.stopped
        return line

    def _image(self, path: Path) -> dict:
        hashes = hash_bytes(path.read_bytes())
        line = {
            "file": str(path),
            "sha256": hashes["sha256"],
            "md5": hashes["md5"],
            "pdq": hashes.get("pdq"),
            "pdq_quality": hashes.get("pdq_quality"),
            "phash": hashes.get("phash"),
            "dhash": hashes.get("dhash"),
        }
        if "unhashable" in hashes:
            line["unhashable"] = hashes["unhashable"]
        return line
