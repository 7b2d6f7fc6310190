from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import wellness
from accounts.access import reviewer_required
from accounts.forms import PreferencesForm
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
        form = PreferencesForm(
            initial={
                name: getattr(current, name)
                for name in ("blur_px", "greyscale", "play_muted", "auto_advance")
            }
        )
        status = 200
    return render(
        request,
        "accounts/preferences.html",
        {"form": form, "exposure": wellness.exposure_this_shift(request.user)},
        status=status,
    )
