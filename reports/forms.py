from django import forms
from django.conf import global_settings, settings

from lib.text import one_line_name
from moderation.cases.route_rules import normalise_language
from reports.categories import DESCRIPTIONS, Category
from reports.media import MediaRejected, inspect_media
from reports.models import normalise_reference

ACCEPT = (
    "image/jpeg,image/png,image/gif,image/webp,"
    "video/mp4,video/quicktime,video/webm,video/x-matroska,video/x-msvideo,.mkv,.avi"
)


class CategoryChoiceField(forms.ChoiceField):
    """Each choice carries its plain-language description for the template."""

    def __init__(self, **kwargs):
        super().__init__(choices=Category.choices, widget=forms.RadioSelect, **kwargs)

    @property
    def described_choices(self):
        return [(value, label, DESCRIPTIONS[value]) for value, label in Category.choices]


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImagesField(forms.FileField):
    """Zero or more images and videos, each checked by its bytes (reports/media.py)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": ACCEPT, "multiple": True}))
        super().__init__(required=False, **kwargs)

    def clean(self, data, initial=None):
        uploads = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(uploads) > settings.MAX_MEDIA_PER_REPORT:
            raise forms.ValidationError(
                f"Please attach at most {settings.MAX_MEDIA_PER_REPORT} files."
            )
        images, errors = [], []
        for upload in uploads:
            if upload.size > max(settings.MAX_UPLOAD_BYTES, settings.MAX_VIDEO_BYTES):
                image_mb = settings.MAX_UPLOAD_BYTES // (1024 * 1024)
                video_mb = settings.MAX_VIDEO_BYTES // (1024 * 1024)
                errors.append(
                    f"{upload.name}: that file is too large. Images can be up to {image_mb} MB "
                    f"and videos up to {video_mb} MB."
                )
                continue
            try:
                # A misnamed file (a PNG called .jpg) is still evidence: keep it, by its bytes.
                images.append(inspect_media(upload.read(), filename=upload.name or "file"))
            except MediaRejected as e:
                errors.append(e.message)
        if errors:
            raise forms.ValidationError(errors)
        return images


def content_url_field(label: str) -> forms.URLField:
    return forms.URLField(label=label, max_length=2000, assume_scheme="https")


def description_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )


def email_field(label: str, help_text: str) -> forms.EmailField:
    # 254: what the reporter-identity column (and RFC 5321's path limit) holds.
    return forms.EmailField(label=label, required=False, max_length=254, help_text=help_text)


def _language_choices() -> list[tuple[str, str]]:
    named = sorted(
        ((normalise_language(code), name) for code, name in global_settings.LANGUAGES),
        key=lambda choice: choice[1],
    )
    return [("", "Not sure")] + named


def language_field(label: str) -> forms.ChoiceField:
    # A list to choose from, not a code to type: the public does not know BCP 47.
    return forms.ChoiceField(
        label=label,
        required=False,
        choices=_language_choices,
        help_text="Helps us send it to reviewers who read that language.",
    )


class ReportForm(forms.Form):
    category = CategoryChoiceField(label="What is wrong with it?")
    content_url = content_url_field("Where is it? (link to the post, image or account)")
    description = description_field("Anything else we should know (optional)")
    involves_child = forms.BooleanField(label="This involves someone under 18", required=False)
    language = language_field("What language is it in? (optional)")
    images = ImagesField(
        label="Screenshots, images or videos (optional)",
        help_text="Images (JPEG, PNG, GIF, WebP) or videos (MP4, MOV, WebM, MKV, AVI), up to 10. "
        "They are stored privately and seen only by trained reviewers.",
    )
    email = email_field(
        "Your email (optional)",
        "Only if you want to hear back: we will e-mail you that we received your report and, once "
        "it has been reviewed, whether we took action. It is never shared with the person you "
        "report.",
    )


class SelfReportForm(forms.Form):
    """A young person asking for an image of themselves to be taken down. The same fields as the
    report form, in words for them, and no category to choose: it is theirs."""

    content_url = content_url_field("Where is it? Paste the link to the post, image or account")
    description = description_field("Anything you want to tell us (optional)")
    images = ImagesField(
        label="A screenshot or the video, if you have one (optional)",
        help_text="You do not have to send the image or video. If you do, only trained reviewers "
        "see it.",
    )
    email = email_field(
        "An email address we can reach you at (optional)",
        "Only if you want updates: we will e-mail you when we get your report and once it has "
        "been reviewed. We never share it with anyone who posted or shared the image.",
    )


class StatusForm(forms.Form):
    reference = forms.CharField(
        label="Your reference number",
        max_length=40,
        error_messages={"required": "Enter the reference number from your report."},
        widget=forms.TextInput(attrs={"placeholder": "VR-XXXX-XXXX", "autocomplete": "off"}),
    )

    def clean_reference(self) -> str:
        """VR-ABCD-2345 however it is typed: with or without its hyphens or the VR, in any case,
        with spaces or dashes a phone put in."""
        reference = normalise_reference(self.cleaned_data["reference"])
        if reference is None:
            raise forms.ValidationError(
                "That does not look like a reference number. It is VR and eight letters or "
                "digits, like VR-ABCD-2345 (with or without the hyphens)."
            )
        return reference


CONVERSATION_CATEGORIES = [
    (
        Category.GROOMING,
        "They are trying to get close to a child: flattery, secrets, moving "
        "the chat somewhere private, asking for photos or to meet",
    ),
    (
        Category.SEXTORTION,
        "They are threatening to share images unless they get more images, money or something else",
    ),
    (Category.CSAM, "They sent or asked for sexual images of a child"),
    (Category.HARASSMENT, "They are bullying or harassing someone"),
    (Category.OTHER, "Something else is wrong"),
]


class ConversationReportForm(forms.Form):
    """Someone reporting a conversation (direct messages, a group chat) from outside the
    platform: who the other person is, how old the people in it are, what was said. What they
    paste is kept as they wrote it (the description); screenshots are media like any report's."""

    category = forms.ChoiceField(
        label="What is happening in the conversation?",
        choices=CONVERSATION_CATEGORIES,
        widget=forms.RadioSelect,
    )
    content_url = content_url_field(
        "Where is the conversation? (a link to the chat, or to the other person's profile)"
    )
    other_handle = forms.CharField(
        label="The other person's username or profile name",
        max_length=255,
        error_messages={"required": "Enter the username of the person you are reporting."},
    )
    other_age = forms.IntegerField(
        label="About how old are they, if you can tell? (optional)",
        required=False,
        min_value=0,
        max_value=130,
    )
    reporter_in_conversation = forms.ChoiceField(
        label="Who were they talking to?",
        choices=[("me", "Me"), ("someone_else", "Someone else (a child I know or look after)")],
        widget=forms.RadioSelect,
        initial="me",
    )
    child_handle = forms.CharField(
        label="That person's username (optional)",
        max_length=255,
        required=False,
        help_text="Only our trained reviewers see it, to find the conversation. We never tell "
        "the person you report who reported them.",
    )
    child_age = forms.IntegerField(
        label="How old is that person? (optional)",
        required=False,
        min_value=0,
        max_value=130,
    )
    description = forms.CharField(
        label="What did they say? Paste the messages, or tell us in your own words",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": "Tell us what was said, or paste the messages."},
    )
    images = ImagesField(
        label="Screenshots of the conversation (optional)",
        help_text="Up to 10 images or videos. They are stored privately and seen only by "
        "trained reviewers.",
    )
    email = email_field(
        "Your email (optional)",
        "Only if you want to hear back: we will e-mail you that we received your report and, "
        "once it has been reviewed, whether we took action.",
    )

    def clean_other_handle(self) -> str:
        return _username(self.cleaned_data["other_handle"])

    def clean_child_handle(self) -> str:
        handle = _username(self.cleaned_data["child_handle"])
        other = self.cleaned_data.get("other_handle", "").strip()
        if handle and other and handle.lower() == other.lower():
            raise forms.ValidationError(
                "That is the username of the person you are reporting: enter the other "
                "person's, or leave it empty."
            )
        return handle


def _username(value: str) -> str:
    try:
        return one_line_name(value.strip())
    except ValueError:
        raise forms.ValidationError(
            "A username is on one line: take out the line breaks and tabs."
        ) from None
