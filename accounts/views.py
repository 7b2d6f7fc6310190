from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import team, wellness
from accounts.forms import PauseForm, PreferencesForm
from accounts.models import User
from lib.access import reviewer_required, supervisor_required
from lib.http import client_ip


@reviewer_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    """The reviewer's own display preferences for sensitive media."""
    current = wellness.preferences_for(request.user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                wellness.preferences_update(
                    user=request.user, ip=client_ip(request), **form.cleaned_data
                )
            except ValidationError as e:
                for name, errors in e.message_dict.items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
            else:
                messages.success(request, "Your preferences are saved.")
                return redirect("preferences")
        status = 400
    else:
        form = PreferencesForm(initial={"blur_px": current.blur_px, "greyscale": current.greyscale})
        status = 200
    return render(
        request,
        "accounts/preferences.html",
        {"form": form, "exposure": wellness.exposure_this_shift(request.user)},
        status=status,
    )


@supervisor_required
@require_http_methods(["GET"])
def team_page(request):
    from django.conf import settings

    return render(
        request,
        "accounts/team.html",
        {
            "members": team.team_overview(),
            "pause_form": PauseForm(),
            "shift_hours": settings.WELLNESS_SHIFT_HOURS,
            "cap": settings.WELLNESS_EXPOSURE_CAP,
            "rotation_days": team.ROTATION_DAYS,
            "now": timezone.now(),
        },
    )


@supervisor_required
@require_POST
def pause_reviewer(request, user_id: int):
    reviewer = get_object_or_404(User, pk=user_id)
    form = PauseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the pause lasts.")
        return redirect("team")
    until = timezone.now() + timedelta(hours=form.cleaned_data["hours"])
    wellness.sensitive_pause(
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
    return redirect("team")


@supervisor_required
@require_POST
def resume_reviewer(request, user_id: int):
    reviewer = get_object_or_404(User, pk=user_id)
    if wellness.sensitive_pause_lift(user=reviewer, by=request.user, ip=client_ip(request)):
        messages.success(request, f"{reviewer.get_username()} can work sensitive queues again.")
    else:
        messages.info(request, f"{reviewer.get_username()} was not paused.")
    return redirect("team")
