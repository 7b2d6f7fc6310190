"""Reviewer wellness: display preferences, exposure per shift, and pauses from sensitive queues.

A "shift" is the rolling window of the last WELLNESS_SHIFT_HOURS hours, whatever the clock says
about rotas: it needs no roster, and counts the material someone actually saw recently.
Exposure in a shift = media reveals + decisions on cases in sensitive queues. At
WELLNESS_EXPOSURE_CAP the console suggests a break; it never blocks work by itself. A video's
reveals (its stills, its player) count as reveals, per reveal like an image's; the seconds of
video played are counted beside them (seconds are not reveals: they are shown, not added in).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import ExposureEvent, ReviewerPreferences, SensitivePause
from moderation.audit.services import audit_record


def shift_start(now: datetime) -> datetime:
    return now - timedelta(hours=settings.WELLNESS_SHIFT_HOURS)


def preferences_for(user) -> ReviewerPreferences:
    """The reviewer's preferences, or the defaults (unsaved) when they have set none."""
    return ReviewerPreferences.objects.filter(user=user).first() or ReviewerPreferences(user=user)


def preferences_update(
    *,
    user,
    blur_px: int,
    greyscale: bool,
    play_muted: bool = True,
    auto_advance: bool = False,
    ip: str | None = None,
):
    if not 0 <= blur_px <= ReviewerPreferences.MAX_BLUR_PX:
        raise ValidationError({"blur_px": "Blur must be between 0 and 40 pixels."})
    chosen = {
        "blur_px": blur_px,
        "greyscale": greyscale,
        "play_muted": play_muted,
        "auto_advance": auto_advance,
    }
    with transaction.atomic(durable=True):
        prefs, _ = ReviewerPreferences.objects.select_for_update().get_or_create(user=user)
        before = {name: getattr(prefs, name) for name in chosen}
        for name, value in chosen.items():
            setattr(prefs, name, value)
        prefs.updated_at = timezone.now()
        prefs.save()
        audit_record(
            verb="preferences.updated", obj=prefs, actor=user, before=before, after=chosen, ip=ip
        )
    return prefs


def exposure_record(
    *, user, kind: str, case, video: bool = False, player: bool = False
) -> ExposureEvent:
    """Count one exposure. Called inside the service that reveals or decides. `video`: a reveal
    of a video; `player`: of its player, which then counts the seconds played
    (exposure_record_played)."""
    return ExposureEvent.objects.create(
        user=user,
        kind=kind,
        case=case,
        queue_id=case.queue_id,
        sensitive=case.queue.sensitive,
        video=video,
        seconds_played=0.0 if player else None,
    )


def exposure_record_played(*, user, event_id: int, seconds: float, cap: float) -> float | None:
    """Record how much of a revealed video its page says was played: the total since that reveal,
    at most `cap` (the video's length). Reported again and again as the reviewer plays (and by a
    beacon as the page goes), in any order: a total only grows, so the largest stands and a
    repeat changes nothing. Returns the total recorded before this report (so a caller can tell
    when a threshold is first crossed), or None when `event_id` is not this user's video reveal.
    Call inside a transaction: the row is locked, so two beacons at once are told in turn."""
    seconds = min(max(0.0, float(seconds)), max(0.0, float(cap)))
    reveal = (
        ExposureEvent.objects.select_for_update()
        .filter(pk=event_id, user=user, kind=ExposureEvent.Kind.REVEAL, video=True)
        .first()
    )
    if reveal is None:
        return None
    before = reveal.seconds_played or 0.0
    if seconds > before:
        ExposureEvent.objects.filter(pk=reveal.pk).update(seconds_played=seconds)
    return before


# Conditional counts shared by the per-reviewer summary and the team page.
REVEALS = Q(kind=ExposureEvent.Kind.REVEAL)
SENSITIVE_DECISIONS = Q(kind=ExposureEvent.Kind.DECISION, sensitive=True)
VIDEO_REVEALS = Q(kind=ExposureEvent.Kind.REVEAL, video=True)


def seconds_played(**extra) -> Sum:
    """The seconds of video played, summed over the events matching `extra` (0, never None)."""
    return Sum("seconds_played", filter=VIDEO_REVEALS & Q(**extra), default=0.0)


@dataclass(frozen=True)
class Exposure:
    reveals: int
    sensitive_decisions: int
    since: datetime
    cap: int
    # Of the reveals, those of videos (stills or player); and the seconds of video played.
    video_reveals: int = 0
    video_seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.reveals + self.sensitive_decisions

    @property
    def at_cap(self) -> bool:
        return self.cap > 0 and self.total >= self.cap


def exposure_this_shift(user, now: datetime | None = None) -> Exposure:
    """One indexed aggregate over the reviewer's events in the current shift."""
    now = now or timezone.now()
    since = shift_start(now)
    counts = ExposureEvent.objects.filter(user=user, at__gt=since).aggregate(
        reveals=Count("pk", filter=REVEALS),
        decisions=Count("pk", filter=SENSITIVE_DECISIONS),
        videos=Count("pk", filter=VIDEO_REVEALS),
        seconds=seconds_played(),
    )
    return Exposure(
        reveals=counts["reveals"],
        sensitive_decisions=counts["decisions"],
        since=since,
        cap=settings.WELLNESS_EXPOSURE_CAP,
        video_reveals=counts["videos"],
        video_seconds=round(counts["seconds"] or 0.0, 1),
    )


def current_pause(user, now: datetime | None = None) -> SensitivePause | None:
    now = now or timezone.now()
    return (
        SensitivePause.objects.filter(SensitivePause.active_q(now), user=user)
        .order_by("-until")
        .first()
    )
