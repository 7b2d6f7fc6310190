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

from django.conf import settings
from django.core import signing
from django.db import transaction

from accounts.wellness import exposure_record_played
from moderation.audit.services import audit_record
from moderation.cases.models import Case
from moderation.review.services import media_record_view
from reports.models import Media

SALT = "vigil.review.media-reveal"
# What a reveal shows of a video: its strip of stills, or its player.
FRAMES, VIDEO = "frames", "video"
SHOWN = (FRAMES, VIDEO)
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
    token = signing.dumps(
        {"u": user.pk, "c": case.pk, "m": media.pk, "s": shown, "e": event.pk}, salt=SALT
    )
    return Reveal(token=token, shown=shown, exposure_id=event.pk)


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
