from django import forms

from moderation.decisions.models import Decision, ReReview
from moderation.decisions.rules import POLICIES


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
    # The case as the reviewer saw it (services.case_version): a decision on a case that has
    # changed since is refused. Optional so API clients and older pages still decide.
    seen = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)


class ReReviewForm(DecisionForm):
    """The reviewer's own decision on a sampled case: anything but a referral."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A re-review is of a decided case, which no longer changes under the reviewer.
        del self.fields["seen"]
        self.fields["action"].choices = [
            (value, label)
            for value, label in Decision.Action.choices
            if value != Decision.Action.SENIOR_REVIEW
        ]


class ResolveForm(forms.Form):
    stands = forms.ChoiceField(choices=ReReview.Stands.choices, widget=forms.RadioSelect)
    note = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
