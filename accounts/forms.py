from django import forms

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
