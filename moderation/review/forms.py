from django import forms

from moderation.decisions.models import Decision, ReReview
from moderation.decisions.rules import POLICIES
from moderation.review.guard import UNGUARDED_ACTIONS


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
    safety_notice = forms.BooleanField(
        required=False,
        label="Also send the owner a safety notice",
        help_text="Resharing this is illegal and revictimises the child; how to report it instead.",
    )
    # The case as the reviewer saw it (services.case_version): a decision on a case that has
    # changed since is refused. Optional so API clients and older pages still decide.
    seen = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args, guarded: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if guarded:
            # Said on the choice itself, before the reviewer records it (moderation/review/guard.py).
            self.fields["action"].choices = [
                (value, label if value in UNGUARDED_ACTIONS else f"{label} → senior review")
                for value, label in self.fields["action"].choices
            ]


class ReReviewForm(DecisionForm):
    """The reviewer's own decision on a sampled case: anything but a referral."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A re-review is of a decided case, which no longer changes under the reviewer; it
        # records the reviewer's reading, not what the platform is asked to send.
        del self.fields["seen"]
        del self.fields["safety_notice"]
        self.fields["action"].choices = [
            (value, label)
            for value, label in Decision.Action.choices
            if value != Decision.Action.SENIOR_REVIEW
        ]


class ResolveForm(forms.Form):
    stands = forms.ChoiceField(choices=ReReview.Stands.choices, widget=forms.RadioSelect)
    note = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
