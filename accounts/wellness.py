"""Reviewer wellness: display preferences, exposure per shift, and pauses from sensitive queues.

A "shift" is the rolling window of the last WELLNESS_SHIFT_HOURS hours, whatever the clock says
about rotas: it needs no roster, and counts the material someone actually saw recently.
Exposure in a shift = media reveals + decisions on cases in sensitive queues. At
WELLNESS_EXPOSURE_CAP the console suggests a break; it never blocks work by itself.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import ExposureEvent, ReviewerPreferences, SensitivePause
from moderation.audit.services import audit_record


def shift_start(now: datetime) -> datetime:
    return now - timedelta(hours=settings.WELLNESS_SHIFT_HOURS)


def preferences_for(user) -> ReviewerPreferences:
    """The reviewer's preferences, or the defaults (unsaved) when they have set none."""
    return ReviewerPreferences.objects.filter(user=user).first() or ReviewerPreferences(user=user)


def preferences_update(*, user, blur_px: int, greyscale: bool, ip: str | None = None):
    if not 0 <= blur_px <= ReviewerPreferences.MAX_BLUR_PX:
        raise ValidationError({"blur_px": "Blur must be between 0 and 40 pixels."})
    with transaction.atomic(durable=True):
        prefs, _ = ReviewerPreferences.objects.select_for_update().get_or_create(user=user)
        before = {"blur_px": prefs.blur_px, "greyscale": prefs.greyscale}
        prefs.blur_px, prefs.greyscale, prefs.updated_at = blur_px, greyscale, timezone.now()
        prefs.save()
        audit_record(
            verb="preferences.updated",
            obj=prefs,
            actor=user,
            before=before,
            after={"blur_px": blur_px, "greyscale": greyscale},
            ip=ip,
        )
    return prefs


def exposure_record(*, user, kind: str, case) -> None:
    """Count one exposure. Called inside the service that reveals or decides."""
    ExposureEvent.objects.create(
        user=user, kind=kind, case=case, queue_id=case.queue_id, sensitive=case.queue.sensitive
    )


# Conditional counts shared by the per-reviewer summary and the team page.
REVEALS = Q(kind=ExposureEvent.Kind.REVEAL)
SENSITIVE_DECISIONS = Q(kind=ExposureEvent.Kind.DECISION, sensitive=True)


@dataclass(frozen=True)
class Exposure:
    reveals: int
    sensitive_decisions: int
    since: datetime
    cap: int

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
        reveals=Count("pk", filter=REVEALS), decisions=Count("pk", filter=SENSITIVE_DECISIONS)
    )
    return Exposure(
        reveals=counts["reveals"],
        sensitive_decisions=counts["decisions"],
        since=since,
        cap=settings.WELLNESS_EXPOSURE_CAP,
    )


def current_pause(user, now: datetime | None = None) -> SensitivePause | None:
    now = now or timezone.now()
    return (
        SensitivePause.objects.filter(SensitivePause.active_q(now), user=user)
        .order_by("-until")
        .first()
    )
