"""Forms of the bank pages: a supervisor's reason for releasing or removing a quarantined entry."""

from django import forms


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        label="Why its matches may act again",
        help_text="Recorded in the audit log (e.g. a real surge of a known file).",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why this entry may act again.")
        return reason


class RemoveForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False, label="Why it goes (optional)")

    def clean_reason(self):
        return self.cleaned_data["reason"].strip()
