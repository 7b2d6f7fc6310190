from django import forms

from moderation.decisions.models import Decision, ReReview
from moderation.decisions.rules import POLICIES
from moderation.review.guard import UNGUARDED_ACTIONS


class DecisionForm(forms.Form):
    # Drawn apart, together, on a conversation case (_decision_fields.html).
    target_field_names = ("target", "target_message", "target_message_id", "target_account")

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

    def __init__(self, *args, guarded: bool = False, conversation=None, **kwargs):
        super().__init__(*args, **kwargs)
        if guarded:
            # Said on the choice itself, before the reviewer records it (moderation/review/guard.py).
            self.fields["action"].choices = [
                (value, label if value in UNGUARDED_ACTIONS else f"{label} → senior review")
                for value, label in self.fields["action"].choices
            ]
        self.conversation = conversation
        if conversation is not None:
            self.fields.update(_target_fields(conversation))

    def target_fields(self):
        """The fields choosing what a decision on a conversation is about (drawn together)."""
        return [self[name] for name in self.target_field_names if name in self.fields]

    def clean(self):
        data = super().clean()
        if self.conversation is None:
            return data
        # One target and its reference, as services.case_decide takes them; whether they are
        # part of the conversation is the service's to say (the API asks it too).
        target = data.get("target", "")
        message = data.pop("target_message", "") or ""
        message_id = (data.pop("target_message_id", "") or "").strip()
        account = data.pop("target_account", "") or ""
        data["target_ref"] = ""
        if target == Decision.Target.MESSAGE:
            if message and message_id and message != message_id:
                self.add_error(
                    "target_message_id", "Choose a reported message or type an id, not both."
                )
            elif not (message or message_id):
                self.add_error("target_message", "Choose the message the decision is about.")
            data["target_ref"] = message_id or message
        elif target == Decision.Target.ACCOUNT:
            if not account:
                self.add_error("target_account", "Choose the account the decision is about.")
            data["target_ref"] = account
        elif message or message_id or account:
            # Acting on the whole conversation when the reviewer picked one part of it would be
            # a larger decision than they meant.
            self.add_error(
                "target",
                "You picked a message or an account: choose what the decision is about, or "
                "clear your pick.",
            )
        return data


def _target_fields(conversation) -> dict:
    """`conversation`: the thread's reported messages and participants to choose from
    (moderation/review/conversations.py)."""
    messages, participants = conversation
    return {
        "target": forms.ChoiceField(
            choices=[
                ("", "The whole conversation"),
                (Decision.Target.MESSAGE, "One message"),
                (Decision.Target.ACCOUNT, "A participant’s account"),
            ],
            required=False,
            initial="",
            widget=forms.RadioSelect,
            label="What the decision is about",
        ),
        "target_message": forms.ChoiceField(
            choices=[("", "—")]
            + [
                (
                    m.platform_id,
                    f"{m.sent_at:%Y-%m-%d %H:%M} · {m.sender} · {_excerpt(m.text)}",
                )
                for m in messages
            ],
            required=False,
            label="Reported message",
        ),
        "target_message_id": forms.CharField(
            required=False,
            max_length=255,
            label="Or any message, by its id",
        ),
        "target_account": forms.ChoiceField(
            choices=[("", "—")] + [(p.account_id, f"{p} ({_role(p)})") for p in participants],
            required=False,
            label="Participant’s account",
        ),
    }


def _excerpt(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _role(participant) -> str:
    words = [participant.get_role_display()]
    if participant.reported:
        words.append("reported")
    return ", ".join(words)


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
