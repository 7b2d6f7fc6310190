"""A case's media on the review console: files served privately (whole, or the byte range a video
player asks for), and videos revealed once per reveal (moderation/review/reveals.py): their
strip of stills, their player, and the seconds the player reports played.

Every view checks, as the case page does, that the person may see the case and, for evidence
preserved for a report to the authorities, that their role may see it (refusals are logged).
"""

import math

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import wellness
from accounts.access import reviewer_required
from lib.http import client_ip
from lib.ranges import ranged_file_response
from moderation.banks.models import Match
from moderation.banks.strips import media_request_strip
from moderation.cases.access import get_visible_case
from moderation.escalations import custody
from moderation.review import reveals, services
from moderation.review.segments import clock, video_timeline
from reports.models import Media, VideoStrip


def _case_media(case, media_id: int, *, video: bool = False) -> Media:
    media = Media.objects.filter(Q(report__case=case) | Q(flag__case=case), pk=media_id)
    if video:
        media = media.filter(kind=Media.Kind.VIDEO)
    found = media.first()
    if found is None:
        raise Http404("No such media on this case")
    return found


def _revealed(request, case, media, shown: str) -> bool:
    """Whether the request carries a reveal of this file (then it was logged when revealed).
    A token that is not this person's reveal of this file is refused outright."""
    token = request.GET.get("reveal")
    if token is None:
        return False
    try:
        reveals.reveal_check(
            token,
            user=request.user,
            case_id=case.pk,
            media_id=media.pk,
            shown=shown,
            max_age=reveals.KEPT_IMAGE_SECONDS
            if shown == reveals.IMAGE
            else reveals.REVEAL_SECONDS,
        )
    except reveals.RevealInvalid:
        raise PermissionDenied("This reveal is not valid here, or it has expired") from None
    return True


def _serve(request, *, case, media, name: str, content_type: str, revealed: bool, shown: str):
    # Evidence kept for a report to the authorities: only named roles (refusals are logged). On
    # every request, a reveal's too: access can end while a video plays.
    custody.media_check_preserved_access(
        media=media, case=case, user=request.user, ip=client_ip(request)
    )
    try:
        handle = media.file.storage.open(name, "rb")
    except FileNotFoundError:
        # Evidence missing from storage is an operations problem, not a view to log.
        raise Http404("The file is missing from storage") from None
    response = ranged_file_response(request, handle, content_type=content_type)
    if not revealed and response.status_code in (200, 206):
        services.media_record_view(
            media=media, case=case, user=request.user, ip=client_ip(request), shown=shown
        )
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, no-store"
    return response


@reviewer_required
@never_cache
@require_GET
def case_media_view(request, case_id: int, media_id: int):
    """A case's media file, to a reviewer who may see the case; whole, or the byte range a video
    player asks for. Each fetch is logged as a view, except a video player's with its reveal
    token (logged once, when revealed) and an image's kept revealed across a refused decision
    (logged when first revealed)."""
    case = get_visible_case(request, case_id)
    media = _case_media(case, media_id)
    # An image drawn revealed again after a refused decision carries a token (kept_reveals).
    revealed = _revealed(request, case, media, reveals.VIDEO if media.is_video else reveals.IMAGE)
    return _serve(
        request,
        case=case,
        media=media,
        name=media.file.name,
        content_type=media.mime or "application/octet-stream",
        revealed=revealed,
        shown=reveals.VIDEO if media.is_video else "",
    )


@reviewer_required
@never_cache
@require_GET
def case_media_frames(request, case_id: int, media_id: int):
    """A video's strip of stills (one JPEG), served as privately as the video itself."""
    case = get_visible_case(request, case_id)
    media = _case_media(case, media_id, video=True)
    strip = VideoStrip.objects.filter(media=media).first()
    if strip is None or not strip.ready:
        raise Http404("This video has no stills yet")
    revealed = _revealed(request, case, media, reveals.FRAMES)
    return _serve(
        request,
        case=case,
        media=media,
        name=strip.file.name,
        content_type="image/jpeg",
        revealed=revealed,
        shown=reveals.FRAMES,
    )


@reviewer_required
@never_cache
@require_POST
def case_media_frames_status(request, case_id: int, media_id: int):
    """Polled by the case page (htmx) while a video's stills are being made: asks for them if
    nobody has (or the request looks lost), and offers "Show frames" once they are there."""
    case = get_visible_case(request, case_id)
    media = _case_media(case, media_id, video=True)
    strip = media_request_strip(media_id=media.pk)
    return render(
        request, "moderation/_video_frames_status.html", {"case": case, "m": media, "strip": strip}
    )


@reviewer_required
@never_cache
@require_POST
def case_media_reveal(request, case_id: int, media_id: int):
    """Reveal a video's stills ("frames") or its player ("video"): logged as a view and counted
    as an exposure here, once; answered with the strip or the player, whose file URL carries the
    reveal's token."""
    case = get_visible_case(request, case_id)
    media = _case_media(case, media_id, video=True)
    shown = request.POST.get("shown", "")
    if shown not in reveals.SHOWN:
        return HttpResponseBadRequest("Say what to show: frames or video.")
    custody.media_check_preserved_access(
        media=media, case=case, user=request.user, ip=client_ip(request)
    )
    strip = None
    if shown == reveals.FRAMES:
        strip = VideoStrip.objects.filter(media=media).first()
        if strip is None or not strip.ready:
            # Nothing to show yet: not a view. The page goes back to waiting for the stills.
            return render(
                request,
                "moderation/_video_frames_status.html",
                {"case": case, "m": media, "strip": strip},
            )
    reveal = reveals.media_reveal(
        media=media, case=case, user=request.user, shown=shown, ip=client_ip(request)
    )
    prefs = wellness.preferences_for(request.user)
    context = {"case": case, "m": media, "prefs": prefs, "filter": _filter(prefs)}
    if shown == reveals.VIDEO:
        url = reverse("case_media", args=[case.pk, media.pk])
        context |= {"src": f"{url}?reveal={reveal.token}", "token": reveal.token}
        return render(request, "moderation/_video_player.html", context)
    return render(
        request,
        "moderation/_video_frames.html",
        context | _strip_context(case, media, strip, reveal.token),
    )


def _strip_context(case, media, strip: VideoStrip, token: str) -> dict:
    matches = Match.objects.filter(media=media).select_related("entry__bank").order_by("pk")
    timeline = video_timeline(duration=media.duration, matches=matches, stills=strip.timestamps)
    url = reverse("case_media_frames", args=[case.pk, media.pk])
    stills = [
        {
            "seconds": seconds,
            "clock": clock(seconds, tenths=True),
            "x": -i * strip.tile_width,
            "matched": timeline.matched_at(seconds),
        }
        for i, seconds in enumerate(strip.timestamps)
    ]
    return {"strip": strip, "stills": stills, "sprite": f"{url}?reveal={token}", "token": token}


def keep_reveals(request, case, media: list[Media], prefs) -> None:
    """After a refused decision, draw again revealed what the reviewer had revealed on the page
    they sent (reveals.kept_reveals: nothing is logged again). Sets `m.kept` on each media:
    {"image": src} or {"frames": strip context, "video": player context}, empty if none."""
    kept = reveals.kept_reveals(
        user=request.user,
        case=case,
        posted=request.POST.getlist("revealed"),
        media_ids={m.pk for m in media},
    )
    shared = {"case": case, "prefs": prefs, "filter": _filter(prefs)}
    for m in media:
        tokens, m.kept = kept.get(m.pk, {}), {}
        url = reverse("case_media", args=[case.pk, m.pk])
        if reveals.IMAGE in tokens and not m.is_video:
            m.kept["image"] = {"src": f"{url}?reveal={tokens[reveals.IMAGE]}"} | shared
        strip = getattr(m, "video_strip", None) if m.is_video else None
        if reveals.FRAMES in tokens and strip is not None and strip.ready:
            frames = _strip_context(case, m, strip, tokens[reveals.FRAMES])
            m.kept["frames"] = frames | shared | {"m": m}
        if reveals.VIDEO in tokens and m.is_video:
            token = tokens[reveals.VIDEO]
            m.kept["video"] = {"src": f"{url}?reveal={token}", "token": token, "m": m} | shared


def _filter(prefs) -> str:
    """The CSS filter a revealed item first appears with (vigil.js lifts it on request)."""
    parts = [f"blur({prefs.blur_px}px)"] if prefs.blur_px else []
    if prefs.greyscale:
        parts.append("grayscale(1)")
    return " ".join(parts) or "none"


@reviewer_required
@never_cache
@require_POST
def case_media_played(request, case_id: int, media_id: int):
    """The player's report of the seconds played since its reveal (on pause, at the end, as the
    page goes: navigator.sendBeacon). Idempotent: the total reported, at most the video's length;
    a smaller or repeated total changes nothing. Needs only the reveal's token, which was given
    to this person for this video after the access checks: it records their own exposure, which
    counts even if the case has moved out of their reach since."""
    media = Media.objects.filter(pk=media_id, kind=Media.Kind.VIDEO).first()
    if media is None:
        raise Http404("No such video")
    try:
        seconds = float(request.POST.get("seconds", ""))
    except ValueError:
        return HttpResponseBadRequest("seconds: a number of seconds played.")
    if not math.isfinite(seconds) or seconds < 0:
        return HttpResponseBadRequest("seconds: a number of seconds played, 0 or more.")
    try:
        reveals.media_record_played(
            media=media,
            case_id=case_id,
            user=request.user,
            token=request.POST.get("reveal", ""),
            seconds=seconds,
        )
    except reveals.RevealInvalid:
        raise PermissionDenied("Not a reveal of this video by you") from None
    return HttpResponse(status=204)
