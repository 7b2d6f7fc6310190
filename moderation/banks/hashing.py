"""The hashing job's writes: hash a media file, cluster it with its near-duplicates, match it
against the banks and act on the matches by bank policy; and matching media already received
against entries added since (retroactive matching)."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q, Subquery
from django.db.models.functions import Now

from moderation.audit.services import audit_record
from moderation.banks.clusters import (
    cluster_lock,
    media_assign_cluster,
    media_assign_video_cluster,
)
from moderation.banks.frame_index import build_frame_index
from moderation.banks.governance import matches_record
from moderation.banks.matching import (
    Hit,
    build_index,
    find_image_matches,
    find_video_matches,
    matching_in_flight,
    wait_for_hashing_commits,
)
from moderation.banks.models import (
    MIN_PDQ_QUALITY,
    PERCEPTUAL,
    SAME_DIGEST,
    SIGNAL_TYPES,
    BankEntry,
    HashBank,
    Match,
)
from moderation.banks.policy import case_apply_matches, case_reapply_matches
from moderation.banks.strips import media_make_strip, media_strip_after_hashing
from moderation.banks.video_matching import (
    match_frames_in_image_index,
    match_image_in_frame_index,
    match_video,
)
from moderation.cases.models import Case
from moderation.cases.rollup import case_refresh_priority
from reports.hashing import PerceptualHashes, Unhashable, exact_hashes, perceptual_hashes
from reports.models import Flag, Media, Report, VideoHash
from reports.thumbnails import StillPicker
from reports.video import NotAVideo, VideoHashes, VideoRejected, vpdq_hash
from reports.vpdq import frames_from_text, frames_to_text, sampling_interval

# Bytes read at a time when hashing a video file (videos are never read whole).
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class _Hashed:
    sha256: str
    md5: str
    size: int
    # The stored file is not what was received (evidence damaged in storage).
    damaged: bool
    perceptual: PerceptualHashes | None
    unhashable_reason: str
    video: VideoHashes | None = None

    @property
    def variants(self) -> list[str]:
        return list(self.perceptual.pdq_dihedral) if self.perceptual is not None else []


def _hash_file(media: Media) -> _Hashed:
    """The file's hashes: the slow part, done outside any transaction."""
    if media.is_video:
        return _hash_video(media)
    with media.file.open("rb") as f:
        data = f.read()
    sha256, md5, size = exact_hashes([data])
    damaged = bool(media.sha256) and sha256 != media.sha256
    perceptual, reason = None, ""
    if damaged:
        reason = _damaged(sha256)
    else:
        try:
            perceptual = perceptual_hashes(data)
        except Unhashable as e:
            reason = e.reason[:200]
    return _Hashed(sha256, md5, size, damaged, perceptual, reason)


def _damaged(sha256: str) -> str:
    # The stored file is not what was received: evidence damaged in storage. Keep the received
    # hash (it is the evidence's identity) and say so; never hash the damage.
    return f"stored file does not match its SHA-256 (found {sha256[:16]}…)"


def _hash_video(media: Media) -> _Hashed:
    """A video's exact hashes (read a chunk at a time) and its vPDQ (decoded from the file in
    storage, a frame at a time): memory stays bounded whatever the file's size."""
    with media.file.open("rb") as f:
        sha256, md5, size = exact_hashes(iter(lambda: f.read(CHUNK), b""))
    damaged = bool(media.sha256) and sha256 != media.sha256
    if damaged:
        return _Hashed(sha256, md5, size, True, None, _damaged(sha256))
    stills = StillPicker()
    try:
        with media.file.open("rb") as f:
            video = vpdq_hash(f, stills=stills)
    except NotAVideo:
        return _Hashed(sha256, md5, size, False, None, "not a video FFmpeg can read")
    except VideoRejected as e:
        return _Hashed(sha256, md5, size, False, None, e.message[:200])
    reason = "" if video.frames else (video.stopped or "no frames decoded")[:200]
    if stills.strip.thumbnails:
        # The case page's stills, picked in the same pass: no second decode for them.
        stills.strip.stopped = video.stopped
        media_make_strip(media_id=media.pk, strip=stills.strip)
    return _Hashed(sha256, md5, size, False, None, reason, video)


def _bank_hits(media: Media, hashed: _Hashed) -> list[Hit]:
    """Matching reads only the hashes: done before the transaction, so no lock waits on it."""
    if hashed.video is not None:
        return find_video_matches(
            hashed.video.frames,
            interval=hashed.video.interval,
            md5="" if hashed.damaged else hashed.md5,
            sha256=media.sha256 or hashed.sha256,
        )
    return find_image_matches(
        hashed.perceptual,
        md5="" if hashed.damaged else hashed.md5,
        sha256=media.sha256 or hashed.sha256,
    )


def media_hash(*, media_id: int) -> Media:
    """Hash a media file, cluster it with its near-duplicates, match it against the banks and act
    on the matches by bank policy.

    The hashing itself (the slow part) runs before the transaction; everything it writes is
    written in one transaction, so a worker that dies halfway leaves nothing behind and the retry
    starts clean. Idempotent: running it again on hashed media changes nothing.
    """
    media = Media.objects.get(pk=media_id)
    if media.hashed_at is not None:
        return media
    hashed = _hash_file(media)
    # Matching and the commit of what it found, ordered against bank changes: an entry added
    # meanwhile is matched here or by its own rematch, never missed by both.
    with matching_in_flight():
        return _media_store(media_id, hashed, _bank_hits(media, hashed))


def _media_store(media_id: int, hashed: _Hashed, hits: list[Hit]) -> Media:
    with transaction.atomic(durable=True):
        media = Media.objects.select_for_update().get(pk=media_id)
        if media.hashed_at is not None:
            return media
        if not hashed.damaged:
            media.sha256, media.md5, media.size = hashed.sha256, hashed.md5, hashed.size
        media.unhashable_reason = hashed.unhashable_reason
        if hashed.perceptual is not None:
            p = hashed.perceptual
            media.pdq, media.pdq_quality = p.pdq, p.pdq_quality
            media.phash, media.dhash = p.phash, p.dhash
            media.width, media.height = p.width, p.height
            media.exif_orientation = p.exif_orientation
        if hashed.video is not None:
            _describe_video(media, hashed.video)
        case = _case_for_update(media)
        media.save()
        if hashed.video is not None:
            _store_video_hash(media, hashed.video)
        # A video's stills for the case page, made by a job after commit.
        media_strip_after_hashing(media=media)
        if hits:
            _record_matches(media=media, case=case, hits=hits)
        # Last, and briefly: the cluster lock, then the database's own clock for hashed_at, so
        # hashed_at order is commit order on every machine (moderation/banks/clusters.py relies on it).
        cluster_lock()
        Media.objects.filter(pk=media.pk).update(hashed_at=Now())
        media.refresh_from_db(fields=["hashed_at"])
        if hashed.video is not None:
            cluster = media_assign_video_cluster(media=media, frames=hashed.video.frames)
        else:
            cluster = media_assign_cluster(media=media, variants=hashed.variants)
        audit_record(
            verb="media.hashed",
            obj=media,
            case=case,
            after={
                "sha256": media.sha256,
                "md5": media.md5,
                **(
                    _video_audit(hashed.video)
                    if hashed.video is not None
                    else {
                        "pdq": media.pdq,
                        "pdq_quality": media.pdq_quality,
                        "phash": media.phash,
                        "dhash": media.dhash,
                    }
                ),
                "cluster": cluster.pk if cluster else None,
                **({"unhashable": media.unhashable_reason} if media.unhashable_reason else {}),
            },
        )
    return media


def _describe_video(media: Media, video: VideoHashes) -> None:
    """What decoding found, over what the container claimed at intake."""
    info = video.info
    media.container, media.codec = info.container, info.codec[:32]
    media.width, media.height = info.width, info.height
    media.frame_rate, media.rotation = info.frame_rate, info.rotation
    media.duration = video.duration


def _store_video_hash(media: Media, video: VideoHashes) -> None:
    VideoHash.objects.update_or_create(
        media=media,
        defaults={
            "seconds_per_hash": video.seconds_per_hash,
            "prune_distance": video.prune_distance,
            "frames_decoded": video.frames_decoded,
            "frames": frames_to_text(video.frames),
            "stopped": video.stopped[:200],
        },
    )


def _video_audit(video: VideoHashes) -> dict:
    # The frames themselves are on the VideoHash row; the audit records their digest and count.
    text = frames_to_text(video.frames)
    return {
        "duration": video.duration,
        "vpdq_frames": len(video.frames),
        "vpdq_sha256": hashlib.sha256(text.encode()).hexdigest(),
        **({"stopped": video.stopped} if video.stopped else {}),
    }


def _case_for_update(media: Media) -> Case:
    """The case of the report or flag the media came with, locked (one statement)."""
    owner = Report if media.report_id else Flag
    owner_id = media.report_id or media.flag_id
    return Case.objects.select_for_update().get(
        pk=Subquery(owner.objects.filter(pk=owner_id).values("case_id")[:1])
    )


def _record_matches(*, media: Media, case, hits) -> None:
    """Store a media's bank matches and act on those that count (governance.py) by each bank's
    policy."""
    governed = matches_record(media=media, hits=hits)
    if governed.suppressed_earlier and case.status == Case.Status.OPEN:
        # An allow-list match after matches that acted: what they raised or routed is undone,
        # going forward (nothing is taken back from the platform).
        done = case_reapply_matches(case=case)
    else:
        done = case_apply_matches(case=case, banks=governed.acting)
    case_refresh_priority(case=case)
    banks = sorted(
        HashBank.objects.filter(entries__pk__in=[h.entry_id for h in hits])
        .distinct()
        .values_list("slug", flat=True)
    )
    audit_record(
        verb="media.matched",
        obj=media,
        case=case,
        after={
            "matches": [
                {
                    "entry": h.entry_id,
                    "signal": h.signal_type,
                    "distance": h.distance,
                    "variant": h.variant,
                    **({"segments": list(h.segments)} if h.segments else {}),
                    **(
                        {"query_percent": h.query_percent, "compared_percent": h.compared_percent}
                        if h.query_percent is not None
                        else {}
                    ),
                }
                for h in hits
            ],
            "banks": banks,
            "acting": [b.slug for b in governed.acting],
            **governed.audit(),
            "actions": done,
        },
    )


def media_rematch(
    *, entry_ids: list[int] | None = None, entries=None, open_cases_only: bool = False
) -> int:
    """Match media already received against bank entries added since: material listed today may
    have arrived last week. Returns how many media gained matches. The entries: `entry_ids`, or
    the queryset `entries` (an import of millions is named by its bank and time, never listed).
    `open_cases_only`: only media still waiting for a decision (entries learnt from a decision:
    the cases already decided were decided on their own, and the deciding case itself must not
    match what it just added).

    Compares the stored hashes (the media as received; its rotations were checked against the
    banks of the day it arrived) with the new entries only, and acts on the banks' policies as
    the hashing job would. Idempotent: matches already recorded are skipped.
    """
    if entries is None:
        entries = BankEntry.objects.filter(pk__in=entry_ids or [])
    entries = entries.filter(removed_at__isnull=True)
    # A hashing job that matched before these entries existed, and commits after this reads the
    # media received, would be missed by both: wait for such jobs first (matching_in_flight).
    wait_for_hashing_commits()
    found: dict[int, list[Hit]] = {}
    received = Media.objects.filter(hashed_at__isnull=False)
    if open_cases_only:
        received = received.filter(
            Q(report__case__status=Case.Status.OPEN) | Q(flag__case__status=Case.Status.OPEN)
        )
    if not received.exists():
        return 0  # nothing received yet: no index of the entries (153 s for 10M, measured)
    types = {t for t in SIGNAL_TYPES if entries.filter(signal_type=t).exists()}
    for signal_type in PERCEPTUAL:
        media = received.exclude(**{signal_type: ""})
        if signal_type == "pdq":
            media = media.filter(pdq_quality__gte=MIN_PDQ_QUALITY)
        if signal_type not in types or not media.exists():
            continue
        index = build_index(signal_type, entries=entries)
        for pk, value in media.values_list("pk", signal_type).iterator(chunk_size=2000):
            for entry_id, distance in index.query(value, signal_type):
                found.setdefault(pk, []).append(
                    Hit(entry_id, signal_type, distance, 0 if signal_type == "pdq" else None)
                )
    if "vpdq" in types or "pdq" in types:
        _rematch_video_signals(received, entries, types, found)
    for signal_type, same in SAME_DIGEST.items():
        if not types.intersection(same):
            continue
        # The database joins the media's hashes with the entries': no list of either is read.
        listed = entries.filter(signal_type__in=same)
        for pk, value in received.filter(
            **{f"{signal_type}__in": listed.values("value")}
        ).values_list("pk", signal_type):
            for entry_id, entry_type in listed.filter(value=value).values_list("pk", "signal_type"):
                found.setdefault(pk, []).append(Hit(entry_id, entry_type, 0))

    gained = 0
    for media_id, hits in found.items():
        with transaction.atomic(durable=True):
            media = Media.objects.select_for_update().get(pk=media_id)
            known = set(Match.objects.filter(media=media).values_list("entry_id", flat=True))
            new = [h for h in hits if h.entry_id not in known]
            if not new:
                continue
            case = _case_for_update(media)
            _record_matches(media=media, case=case, hits=new)
            gained += 1
    return gained


def _rematch_video_signals(received, entries, types: set[str], found: dict) -> None:
    """Received videos against new vPDQ entries (and their frames against new image PDQ
    entries); received images against new vPDQ entries' frames."""
    videos = VideoHash.objects.filter(media__in=received).select_related("media")
    frame_index = build_frame_index(entries) if "vpdq" in types else None
    image_index = build_index("pdq", entries=entries) if "pdq" in types else None
    for video in videos.iterator(chunk_size=200):
        frames = frames_from_text(video.frames)
        interval = sampling_interval(video.seconds_per_hash, video.media.frame_rate)
        if frame_index is not None:
            for h in match_video(frames, frame_index, interval=interval):
                found.setdefault(video.media_id, []).append(
                    Hit(
                        h.entry_id,
                        "vpdq",
                        h.distance,
                        None,
                        h.segments,
                        h.query_percent,
                        h.compared_percent,
                    )
                )
        if image_index is not None:
            for h in match_frames_in_image_index(
                frames, lambda value: image_index.query(value, "pdq"), interval=interval
            ):
                found.setdefault(video.media_id, []).append(
                    Hit(h.entry_id, "pdq", h.distance, 0, h.segments)
                )
    if frame_index is None or not len(frame_index):
        return
    images = received.filter(kind=Media.Kind.IMAGE, pdq_quality__gte=MIN_PDQ_QUALITY)
    for pk, pdq in images.exclude(pdq="").values_list("pk", "pdq").iterator(chunk_size=2000):
        for h in match_image_in_frame_index([pdq], frame_index):
            found.setdefault(pk, []).append(Hit(h.entry_id, "vpdq", h.distance, 0, h.segments))


def bank_rematch(*, bank_id: int, added_at: str) -> int:
    """Match media already received against the entries one import added to a bank (those still
    listed). Returns how many media gained matches."""
    return media_rematch(
        entries=BankEntry.objects.filter(bank_id=bank_id, added_at=datetime.fromisoformat(added_at))
    )
