"""The team, for supervisors: each reviewer's exposure, quality, certifications and sensitive-queue
pauses; assigning re-review samples."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import team
from accounts.access import supervisor_required
from accounts.certifications import certification_renew
from accounts.forms import (
    AssignReReviewForm,
    PauseForm,
    RenewCertificationForm,
)
from accounts.models import QueueCertification, User
from lib.forms import add_service_errors
from lib.http import client_ip
from moderation.cases.services import sensitive_pause, sensitive_pause_lift
from moderation.review import rereview as rereview_services
from moderation.supervision import reviewer_stats


def _period(request) -> int:
    try:
        days = int(request.GET.get("days", reviewer_stats.DEFAULT_DAYS))
    except ValueError:
        days = reviewer_stats.DEFAULT_DAYS
    return days if days in dict(reviewer_stats.PERIODS) else reviewer_stats.DEFAULT_DAYS


def _with_quality(members, days: int, now):
    stats = reviewer_stats.reviewer_quality(
        [m.user.pk for m in members], reviewer_stats.period_start(days, now)
    )
    for member in members:
        member.quality = stats[member.user.pk]
    return members


def _common(days: int, now) -> dict:
    return {
        "pause_form": PauseForm(),
        "shift_hours": settings.WELLNESS_SHIFT_HOURS,
        "cap": settings.WELLNESS_EXPOSURE_CAP,
        "rotation_days": team.ROTATION_DAYS,
        "days": days,
        "periods": reviewer_stats.PERIODS,
        "now": now,
    }


@supervisor_required
@require_http_methods(["GET"])
def team_page(request):
    now, days = timezone.now(), _period(request)
    members = _with_quality(team.team_overview(now), days, now)
    return render(request, "accounts/team.html", {"members": members, **_common(days, now)})


def _render_reviewer(request, reviewer, *, rereview_form=None, renew_forms=None, status=200):
    now, days = timezone.now(), _period(request)
    (member,) = _with_quality(team.team_overview(now, only=reviewer.pk), days, now)
    renew_forms = renew_forms or {}
    certifications = [
        (
            cert,
            renew_forms.get(cert.pk)
            or RenewCertificationForm(
                initial={"expires_on": (max(cert.expires_at, now) + timedelta(days=365)).date()},
                prefix=f"cert{cert.pk}",
            ),
        )
        for cert in member.user.certifications.all()
    ]
    return render(
        request,
        "accounts/reviewer.html",
        {
            "member": member,
            "certifications": certifications,
            "decisions": reviewer_stats.recent_decisions(
                reviewer, reviewer_stats.period_start(days, now)
            ),
            "rereview_form": rereview_form or AssignReReviewForm(),
            **_common(days, now),
        },
        status=status,
    )


@supervisor_required
@require_http_methods(["GET"])
def reviewer_page(request, user_id: int):
    """One reviewer's quality, exposure and certifications, with what a supervisor can do."""
    return _render_reviewer(request, get_object_or_404(User, pk=user_id))


@supervisor_required
@require_POST
def assign_rereview(request, user_id: int):
    reviewer = get_object_or_404(User, pk=user_id)
    form = AssignReReviewForm(request.POST)
    if form.is_valid():
        try:
            tasks = rereview_services.rereview_assign_sample(
                reviewer=reviewer, by=request.user, ip=client_ip(request), **form.cleaned_data
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            asked = form.cleaned_data["count"]
            messages.success(
                request,
                f"{len(tasks)} of {reviewer.get_username()}'s decisions sent to blind re-review"
                + (
                    f" (only {len(tasks)} could be, of {asked} asked)."
                    if len(tasks) < asked
                    else "."
                ),
            )
            return redirect("reviewer", reviewer.pk)
    return _render_reviewer(request, reviewer, rereview_form=form, status=400)


@supervisor_required
@require_POST
def renew_certification(request, user_id: int, certification_id: int):
    reviewer = get_object_or_404(User, pk=user_id)
    cert = get_object_or_404(QueueCertification, pk=certification_id, user=reviewer)
    form = RenewCertificationForm(request.POST, prefix=f"cert{cert.pk}")
    if form.is_valid():
        try:
            certification_renew(
                certification_id=cert.pk,
                expires_at=form.expires_at(),
                by=request.user,
                ip=client_ip(request),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(
                request,
                f"{reviewer.get_username()}'s certification for {cert.queue.name} renewed "
                f"through {form.cleaned_data['expires_on']:%Y-%m-%d}.",
            )
            return redirect("reviewer", reviewer.pk)
    return _render_reviewer(request, reviewer, renew_forms={cert.pk: form}, status=400)


def _back(request, reviewer):
    # The reviewer's own page posts back="reviewer"; the team page does not.
    if request.POST.get("back") == "reviewer":
        return redirect("reviewer", reviewer.pk)
    return redirect("team")


@supervisor_required
@require_POST
def pause_reviewer(request, user_id: int):
    reviewer = get_object_or_404(User, pk=user_id)
    form = PauseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the pause lasts.")
        return _back(request, reviewer)
    until = timezone.now() + timedelta(hours=form.cleaned_data["hours"])
    sensitive_pause(
        user=reviewer,
        until=until,
        reason=form.cleaned_data["reason"],
        by=request.user,
        ip=client_ip(request),
    )
    messages.success(
        request,
        f"{reviewer.get_username()} is paused from sensitive queues until "
        f"{until:%Y-%m-%d %H:%M} UTC.",
    )
    return _back(request, reviewer)


@supervisor_required
@require_POST
def resume_reviewer(request, user_id: int):
    reviewer = get_object_or_404(User, pk=user_id)
    if sensitive_pause_lift(user=reviewer, by=request.user, ip=client_ip(request)):
        messages.success(request, f"{reviewer.get_username()} can work sensitive queues again.")
    else:
        messages.info(request, f"{reviewer.get_username()} was not paused.")
    return _back(request, reviewer)
