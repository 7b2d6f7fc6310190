"""Reviewer wellness: display preferences, exposure per shift, and pauses from sensitive queues.

A "shift" is the rolling window of the last WELLNESS_SHIFT_HOURS hours, whatever the clock says
about rotas: it needs no roster, and counts the material someone actually saw recently.
Exposure in a shift = media reveals + decisions on cases in sensitive queues. At
WELLNESS_EXPOSURE_CAP the console suggests a break; it never blocks work by itself.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts import roles
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
    with transaction.atomic():
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


def sensitive_pause(
    *, user, until: datetime, reason: str, by, ip: str | None = None
) -> SensitivePause:
    """Keep `user` away from sensitive queues until `until`. Cases they hold in those queues go
    back to the queue, so the pause takes effect at once."""
    from moderation.cases.models import Case

    if not by.has_perm(roles.SUPERVISE):
        raise PermissionDenied("Only a supervisor can pause a reviewer's access.")
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": "The pause must end in the future."})
    with transaction.atomic():
        pause = SensitivePause.objects.create(
            user=user, until=until, reason=reason, paused_by=by, created_at=now
        )
        audit_record(
            verb="wellness.paused",
            obj=pause,
            actor=by,
            after={"reviewer": user.get_username(), "until": until.isoformat(), "reason": reason},
            ip=ip,
        )
        held = Case.objects.select_for_update().filter(
            assignee=user, status=Case.Status.OPEN, queue__sensitive=True
        )
        for case in held:
            case.assignee, case.lease_expires_at, case.updated_at = None, None, now
            case.save(update_fields=["assignee", "lease_expires_at", "updated_at"])
            audit_record(
                verb="case.released",
                obj=case,
                case=case,
                actor=by,
                before={"assignee": user.get_username()},
                after={"assignee": None, "reasons": ["reviewer paused from sensitive queues"]},
                ip=ip,
            )
    return pause


def sensitive_pause_lift(*, user, by, ip: str | None = None) -> int:
    """End the reviewer's current pauses now. Returns how many were lifted."""
    if not by.has_perm(roles.SUPERVISE):
        raise PermissionDenied("Only a supervisor can lift a pause.")
    now = timezone.now()
    with transaction.atomic():
        pauses = list(
            SensitivePause.objects.select_for_update().filter(
                SensitivePause.active_q(now), user=user
            )
        )
        for pause in pauses:
            pause.lifted_at, pause.lifted_by = now, by
            pause.save(update_fields=["lifted_at", "lifted_by"])
            audit_record(
                verb="wellness.resumed",
                obj=pause,
                actor=by,
                before={"until": pause.until.isoformat()},
                after={"reviewer": user.get_username(), "lifted_at": now.isoformat()},
                ip=ip,
            )
    return len(pauses)
