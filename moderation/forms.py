from django import forms

from moderation.models import Decision
from moderation.rules import POLICIES


class DecisionForm(forms.Form):
    action = forms.ChoiceField(choices=Decision.Action.choices, widget=forms.RadioSelect)
    policy = forms.ChoiceField(choices=POLICIES)
    intent = forms.ChoiceField(
        choices=[("", "—")] + Decision.Intent.choices,
        required=False,
        label="Sharer's apparent intent",
    )
    classification = forms.ChoiceField(
        choices=[("", "—")] + Decision.Classification.choices,
        required=False,
        label="Industry classification",
    )
    notes = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
