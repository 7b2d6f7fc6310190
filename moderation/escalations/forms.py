from django import forms

from moderation.escalations.models import REPORT_ANNOTATIONS, Escalation


class EscalationDetailsForm(forms.Form):
    """What the report to the authority says about the incident."""

    incident_type = forms.ChoiceField(choices=Escalation.IncidentType.choices)
    incident_summary = forms.CharField(
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="What happened",
        help_text="For the analyst who reads the report: what the content shows, how it was "
        "shared, and anything that helps find the child. Facts only.",
    )
    annotations = forms.MultipleChoiceField(
        choices=list(REPORT_ANNOTATIONS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="The report concerns",
    )
    urgent = forms.BooleanField(required=False, label="A child is in immediate danger")
    urgent_reason = forms.CharField(
        max_length=500,
        required=False,
        label="Why (sent to the authority as the reason for high priority)",
    )

    def clean_incident_summary(self):
        return self.cleaned_data["incident_summary"].strip()

    def clean(self):
        data = super().clean()
        if data.get("urgent") and not (data.get("urgent_reason") or "").strip():
            self.add_error(
                "urgent_reason", "Say why a child is in immediate danger: the authority reads this."
            )
        return data


class NoteForm(forms.Form):
    note = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Say why.")
        return note
