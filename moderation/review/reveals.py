"""Revealing a video, once per reveal.

An image is fetched once when revealed, and that fetch is the logged view. A video is not: its
player asks for the file again and again (a byte range at each seek), and its strip of stills is
a file of its own. So a reviewer's click on "Show frames" or "Play video" is the view: it is
logged (`media.viewed`, with what was shown) and counted as an exposure, and answered with a
signed reveal token, bound to that person, case, file and what was shown, and short-lived. The
file views serve a request carrying a valid token without logging it again; a request without
one is logged as a view of its own, as an image's fetch is; a token that is not valid for this
person and file (another user's, forged, expired) is refused.

The player reports the seconds played since its reveal with the same token (`media_record_played`),
which the exposure counts beside the reveals. When a reveal's player has played the whole video
(its played ranges cover all but its last half second, or last 2% when shorter), that is logged once as
`media.watched`: the one thing that lets an escalation tell the CyberTipline the platform viewed
the file (`fileViewedByEsp`). Its stills, or part of it played, are not the file viewed: saying so
would tell law enforcement the platform had seen what it had not.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.wellness import exposure_record_played
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
from moderation.cases.models import Case
from moderation.review.services import media_record_view
from reports.models import Media

SALT = "vigil.review.media-reveal"
# What a reveal shows of a video: its strip of stills, or its player.
FRAMES, VIDEO = "frames", "video"
SHOWN = (FRAMES, VIDEO)
# An image revealed on a page the reviewer sent with a decision the form refused: drawn again
# revealed, its file fetched with a token so that fetch is not a second view (kept_reveals).
IMAGE = "image"
# How long such an image's token opens its file: the page fetches it as it is drawn, so minutes
# are plenty (the view it stands for was logged up to REVEAL_SECONDS before).
KEPT_IMAGE_SECONDS = 5 * 60
MEDIA_TYPE = Media._meta.label_lower
# At most this many reveals are kept from one page (a case has few media; bounds the work).
KEPT_AT_MOST = 50
# How long a reveal's token opens its file: long enough to watch and seek (a player asks again
# at each seek); after that the page offers to reveal it again (logged again).
REVEAL_SECONDS = 60 * 60
# How long after its reveal the player may still report seconds played (a page left open, then
# closed: its last report comes as the page goes).
PLAYED_REPORT_SECONDS = 24 * 60 * 60


def watched_through(duration: float) -> float:
    """Seconds of a video's played ranges that count as having watched all of it (players stop
    a frame or two short of the stated length)."""
    return duration - min(0.5, duration * 0.02)


class RevealInvalid(Exception):
    """The token is not a reveal of this file by this person (or it has expired)."""


@dataclass(frozen=True)
class Reveal:
    token: str
    shown: str
    exposure_id: int


def media_reveal(*, media: Media, case: Case, user, shown: str, ip: str | None) -> Reveal:
    """Log a reveal of a video's stills or player and give the token that opens them."""
    if shown not in SHOWN:
        raise ValueError(f"a video reveal shows one of {SHOWN}, not {shown!r}")
    event = media_record_view(media=media, case=case, user=user, ip=ip, shown=shown)
    token = _sign(user_id=user.pk, case_id=case.pk, media_id=media.pk, shown=shown, event=event.pk)
    return Reveal(token=token, shown=shown, exposure_id=event.pk)


def _sign(*, user_id: int, case_id: int, media_id: int, shown: str, event: int) -> str:
    return signing.dumps(
        {"u": user_id, "c": case_id, "m": media_id, "s": shown, "e": event}, salt=SALT
    )


def kept_reveals(*, user, case: Case, posted: list[str], media_ids) -> dict[int, dict[str, str]]:
    """What the reviewer had revealed on the page they sent, when the decision they sent was
    refused (a form error): {media id: {shown: token}}, so the page drawn again shows it as it
    was, without a second reveal to make and log. Nothing here is logged: each was logged when
    revealed.

    The page sends a video's reveal tokens as they are (checked here as the file views check
    them), and "image:<id>" for an image, which it fetched without a token: kept only if this
    person's view of it in this case was logged within REVEAL_SECONDS (one query), then given a
    token of its own. Anything else is ignored: a page cannot make the server show what its user
    did not reveal."""
    kept: dict[int, dict[str, str]] = {}
    images = set()
    for value in posted[:KEPT_AT_MOST]:
        if value.startswith(f"{IMAGE}:"):
            media_id = value.removeprefix(f"{IMAGE}:")
            if media_id.isascii() and media_id.isdecimal() and int(media_id) in media_ids:
                images.add(int(media_id))
            continue
        try:
            claims = signing.loads(value, salt=SALT, max_age=REVEAL_SECONDS)
        except signing.BadSignature:
            continue
        if (
            isinstance(claims, dict)
            and claims.get("u") == user.pk
            and claims.get("c") == case.pk
            and claims.get("m") in media_ids
            and claims.get("s") in SHOWN
        ):
            kept.setdefault(claims["m"], {})[claims["s"]] = value
    if images:
        viewed = AuditEvent.objects.filter(
            verb="media.viewed",
            actor=user,
            case=case,
            object_type=MEDIA_TYPE,
            object_id__in=[str(pk) for pk in images],
            created_at__gte=timezone.now() - timedelta(seconds=REVEAL_SECONDS),
        ).values_list("object_id", flat=True)
        for media_id in {int(pk) for pk in viewed}:
            token = _sign(user_id=user.pk, case_id=case.pk, media_id=media_id, shown=IMAGE, event=0)
            kept.setdefault(media_id, {})[IMAGE] = token
    return kept


def reveal_check(
    token: str, *, user, case_id: int, media_id: int, shown: str, max_age: int = REVEAL_SECONDS
) -> int:
    """The exposure event of the reveal `token` stands for, if it is this person's reveal of
    this file in this case showing `shown`, made within `max_age` seconds. RevealInvalid if not."""
    try:
        claims = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired included
        raise RevealInvalid("not a valid reveal, or it has expired") from None
    expected = {"u": user.pk, "c": case_id, "m": media_id, "s": shown}
    if not isinstance(claims, dict) or any(claims.get(k) != v for k, v in expected.items()):
        raise RevealInvalid("a reveal of another file, case or person")
    event_id = claims.get("e")
    if not isinstance(event_id, int):
        raise RevealInvalid("not a valid reveal")
    return event_id


def media_record_played(*, media: Media, case_id: int, user, token: str, seconds: float) -> None:
    """Record the seconds of a video its player has played since the reveal `token` names (the
    total so far; at most the video's length). RevealInvalid for a token not this person's
    reveal of this video's player."""
    event_id = reveal_check(
        token,
        user=user,
        case_id=case_id,
        media_id=media.pk,
        shown=VIDEO,
        max_age=PLAYED_REPORT_SECONDS,
    )
    cap = media.duration if media.duration is not None else settings.MAX_VIDEO_SECONDS
    with transaction.atomic(durable=True):
        before = exposure_record_played(user=user, event_id=event_id, seconds=seconds, cap=cap)
        if before is None:
            raise RevealInvalid("no such reveal")
        played = min(seconds, cap)
        if media.duration and before < watched_through(media.duration) <= played:
            audit_record(
                verb="media.watched",
                obj=media,
                case=Case.objects.get(pk=case_id),
                actor=user,
                after={"seconds_played": round(played, 3), "duration": media.duration},
            )
