"""Videos' keyframe strips: a few stills at evenly spaced times (reports/thumbnails.py), kept in
private storage for the case page, so a reviewer can judge a video without playing it.

The hashing job makes one from the frames it decodes anyway (reports/thumbnails.py StillPicker),
and asks for one by a job when it could not (the video did not decode);
a case page that finds none asks again (`media_request_strip`), so a strip lost with its job, or
a video received before strips existed, is made when someone needs it. Making one is a job
(`moderation.banks.jobs.make_strip`): ids in, idempotent, the decoding done outside any
transaction and everything written in one. The same bytes received again share the strip made
for them (files are stored once per SHA-256).
"""

import os
import secrets
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.banks.jobs import make_strip
from moderation.cases.models import Case
from moderation.outbox.services import enqueue
from reports.models import Media, VideoStrip
from reports.thumbnails import Strip, StripFailed, keyframe_strip, strip_storage_name

# A strip asked for and still not made after this long is asked for again (its job was lost).
ASK_AGAIN_AFTER = timedelta(minutes=2)


def media_make_strip(*, media_id: int, strip: Strip | None = None) -> VideoStrip | None:
    """Make a video's strip (None for media that is not a video), from `strip` when the caller
    has its stills already (the hashing job picks them as it decodes), else by decoding the
    file. Idempotent: a strip made already is returned as it is."""
    media = Media.objects.filter(pk=media_id, kind=Media.Kind.VIDEO).first()
    if media is None:
        return None
    done = VideoStrip.objects.filter(media=media, made_at__isnull=False).first()
    if done is not None:
        return done
    fields = _twin_fields(media) or (_stored(media, strip) if strip else _make(media))
    with transaction.atomic(durable=True):
        strip, _ = VideoStrip.objects.select_for_update().get_or_create(media=media)
        if strip.made_at is not None:
            return strip  # made meanwhile by another run of the job
        for name, value in fields.items():
            setattr(strip, name, value)
        strip.made_at = timezone.now()
        strip.save()
        audit_record(
            verb="media.strip_made",
            obj=media,
            case=_case_of(media),
            after={
                "stills": len(strip.timestamps),
                "timestamps": strip.timestamps,
                **({"stopped": strip.stopped} if strip.stopped else {}),
            },
        )
    return strip


def _twin_fields(media: Media) -> dict | None:
    """The strip of the same stored file, made for an earlier copy of it."""
    twin = (
        VideoStrip.objects.filter(
            media__sha256=media.sha256, media__file=media.file.name, made_at__isnull=False
        )
        .exclude(media=media)
        .first()
    )
    if twin is None or (twin.file and not default_storage.exists(twin.file.name)):
        return None
    return {
        "file": twin.file.name,
        "timestamps": twin.timestamps,
        "tile_width": twin.tile_width,
        "tile_height": twin.tile_height,
        "stopped": twin.stopped,
    }


def _make(media: Media) -> dict:
    """Decode the stills and store their sprite: the slow part, outside any transaction."""
    try:
        with media.file.open("rb") as f:
            strip = keyframe_strip(f, duration=media.duration)
    except FileNotFoundError:
        return {"stopped": "the video is missing from storage"}
    except StripFailed as e:
        return {"stopped": str(e)[:200]}
    return _stored(media, strip)


def _stored(media: Media, strip: Strip) -> dict:
    """Store the stills' sprite; the strip row's fields."""
    if not strip.thumbnails:
        return {"stopped": (strip.stopped or "no frame decodes")[:200]}
    data, tile_width, tile_height = strip.sprite()
    name = strip_storage_name(media.file.name)
    _store(name, data)
    return {
        "file": name,
        "timestamps": strip.timestamps,
        "tile_width": tile_width,
        "tile_height": tile_height,
        "stopped": strip.stopped[:200],
    }


def _store(name: str, data: bytes) -> None:
    """Write under a temporary name and rename into place (as reports/media.store_media does):
    a crash mid-write never leaves a partial sprite under the real name."""
    temporary = default_storage.save(f"{name}.part-{secrets.token_hex(4)}", ContentFile(data))
    try:
        os.replace(default_storage.path(temporary), default_storage.path(name))
    except OSError:
        default_storage.delete(temporary)
        raise


def _case_of(media: Media) -> Case | None:
    if media.report_id:
        return Case.objects.filter(reports=media.report_id).first()
    return Case.objects.filter(flags=media.flag_id).first()


@in_transaction
def media_strip_after_hashing(*, media: Media) -> None:
    """For the hashing job's transaction: make the video's strip once the hashes are committed,
    unless the job made it from the frames it decoded."""
    if (
        media.is_video
        and not VideoStrip.objects.filter(media=media, made_at__isnull=False).exists()
    ):
        enqueue(make_strip, media.pk)


def media_request_strip(*, media_id: int) -> VideoStrip:
    """A case page found a video without a strip: ask for one (once; again only when the last
    request looks lost). In the embedded mode the job runs in this process after commit, so the
    strip comes back made."""
    with transaction.atomic(durable=True):
        strip, created = VideoStrip.objects.select_for_update().get_or_create(media_id=media_id)
        if strip.made_at is None and (
            created or strip.requested_at < timezone.now() - ASK_AGAIN_AFTER
        ):
            if not created:
                strip.requested_at = timezone.now()
                strip.save(update_fields=["requested_at"])
            enqueue(make_strip, media_id)
    strip.refresh_from_db()
    return strip
