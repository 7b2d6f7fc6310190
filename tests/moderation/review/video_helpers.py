"""A case with a video on it, hashed and with its stills made, for the review console's video
tests; and the reveal flow as the case page's htmx drives it."""

import re

from moderation.banks.hashing import media_hash
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.banks.strips import media_make_strip
from reports.media import inspect_media
from reports.models import Media, VideoStrip
from tests.videos import make_video

# Three seconds of the moving pattern at ten frames a second.
SECONDS = 3.0


def small_video() -> bytes:
    return make_video("mp4", frames=int(SECONDS * 10), fps=10)


def video_case(submit_report, *, data=None, hashed=True, strip=True, **fields):
    """(case, media) for a report with one video, hashed and with its stills unless told not
    (strip=False: none, as for a video received before strips existed)."""
    fields.setdefault("category", "harassment")
    report = submit_report(
        images=[inspect_media(data or small_video(), filename="clip.mp4")], **fields
    )
    media = report.media.get()
    if hashed:
        media_hash(media_id=media.pk)  # which makes its stills as it decodes
    if strip:
        media_make_strip(media_id=media.pk)
    else:
        # A video without its stills: received before strips existed, or their job lost.
        VideoStrip.objects.filter(media=media).delete()
    return report.case, Media.objects.get(pk=media.pk)


def media_url(case, media, what: str = "") -> str:
    return f"/cases/{case.pk}/media/{media.pk}/{what}"


def reveal(client, case, media, shown: str):
    """Reveal a video's stills or player as the page does; returns (response, token)."""
    response = client.post(media_url(case, media, "reveal/"), {"shown": shown})
    found = re.search(r"reveal=([^\"'&]+)", response.content.decode())
    return response, found.group(1) if found else None


def matched(media, segments, *, bank="Known videos"):
    """A vPDQ match of `media` that matched the given time ranges (as the hashing job records)."""
    bank = HashBank.objects.create(name=bank, slug=bank.lower().replace(" ", "-"))
    entry = BankEntry.objects.create(bank=bank, signal_type="vpdq", value="0" * 64)
    return Match.objects.create(
        media=media,
        entry=entry,
        signal_type="vpdq",
        distance=4,
        segments=segments,
        query_percent=50.0,
        compared_percent=90.0,
    )
