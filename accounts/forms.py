from datetime import datetime, time

from django import forms
from django.utils import timezone

from accounts.models import ReviewerPreferences


class PreferencesForm(forms.Form):
    blur_px = forms.IntegerField(
        min_value=0,
        max_value=ReviewerPreferences.MAX_BLUR_PX,
        label="Blur on revealed images (pixels, 0 for none)",
        help_text="Applied when you reveal an image; press u or click the image to clear it.",
    )
    greyscale = forms.BooleanField(
        required=False,
        label="Show revealed images in greyscale",
        help_text="Press c or use the Colour button to see an image in colour.",
    )
    play_muted = forms.BooleanField(
        required=False,
        label="Start videos muted",
        help_text="The player opens without sound; its own control turns the sound on.",
    )
    auto_advance = forms.BooleanField(
        required=False,
        label="Open the next case after each decision or skip",
        help_text="Otherwise you return to your queues.",
    )


class PauseForm(forms.Form):
    HOURS = [
        (1, "1 hour"),
        (4, "4 hours"),
        (8, "8 hours (a shift)"),
        (24, "24 hours"),
        (72, "3 days"),
    ]

    hours = forms.TypedChoiceField(choices=HOURS, coerce=int, initial=8, label="Pause for")
    reason = forms.CharField(required=False, max_length=300, label="Reason (the reviewer sees it)")


class RenewCertificationForm(forms.Form):
    expires_on = forms.DateField(
        label="Valid through",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The last day the certification is valid (at most two years from today).",
    )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day <= timezone.localdate():
            raise forms.ValidationError("Choose a day after today.")
        return day

    def expires_at(self) -> datetime:
        """The end of the chosen day, in the console's time zone."""
        return timezone.make_aware(datetime.combine(self.cleaned_data["expires_on"], time(23, 59)))


class AssignReReviewForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=50, initial=5, label="Decisions")
    days = forms.TypedChoiceField(
        choices=[(7, "last 7 days"), (30, "last 30 days"), (90, "last 90 days")],
        coerce=int,
        initial=30,
        label="From the",
    )
