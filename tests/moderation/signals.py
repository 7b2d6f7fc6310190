"""Helpers for child-safety signal tests: a known-material bank holding a reference image, and
reports of that image (or a copy of it) hashed as intake hashes them."""

import io

from PIL import Image

from moderation.banks.models import HashBank
from moderation.banks.services import bank_import
from reports.hashing import hash_bytes
from reports.jobs import hash_media
from reports.media import inspect_image
from tests.testdata import PDQ

KNOWN = PDQ / "dih/bridge-1-original.jpg"


def known_image() -> bytes:
    return KNOWN.read_bytes()


def resized_copy(data: bytes, scale: float = 0.5) -> bytes:
    """A re-share as platforms make them: scaled down and re-encoded."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.resize((int(image.width * scale), int(image.height * scale)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def known_bank(data: bytes | None = None) -> HashBank:
    bank = HashBank.objects.create(
        name="Known CSAM",
        slug="known",
        signal_types=["pdq", "md5"],
        policy=HashBank.Policy.ACT_AND_ESCALATE,
    )
    bank_import(bank=bank, text="pdq " + hash_bytes(data or known_image())["pdq"])
    return bank


def report_image(submit_report, data: bytes, *, category="harassment", name="x.jpg", **kwargs):
    """Report content carrying the image and run the hashing job on it."""
    report = submit_report(category=category, images=[inspect_image(data, filename=name)], **kwargs)
    hash_media(report.media.get().pk)
    return report
