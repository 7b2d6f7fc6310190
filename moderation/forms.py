from django import forms

from moderation.models import Decision, ReReview
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


class ReReviewForm(DecisionForm):
    """The reviewer's own decision on a sampled case: anything but a referral."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [
            (value, label)
            for value, label in Decision.Action.choices
            if value != Decision.Action.SENIOR_REVIEW
        ]


class ResolveForm(forms.Form):
    stands = forms.ChoiceField(choices=ReReview.Stands.choices, widget=forms.RadioSelect)
    note = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
