from django import forms
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from reports.categories import DESCRIPTIONS, Category

ACCEPTED_IMAGE_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


class CategoryChoiceField(forms.ChoiceField):
    """Each choice carries its plain-language description for the template."""

    def __init__(self, **kwargs):
        super().__init__(choices=Category.choices, widget=forms.RadioSelect, **kwargs)

    @property
    def described_choices(self):
        return [(value, label, DESCRIPTIONS[value]) for value, label in Category.choices]


class ReportForm(forms.Form):
    category = CategoryChoiceField(label="What is wrong with it?")
    content_url = forms.URLField(
        label="Where is it? (link to the post, image or account)",
        max_length=2000,
        assume_scheme="https",
    )
    description = forms.CharField(
        label="Anything else we should know (optional)",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    involves_child = forms.BooleanField(label="This involves someone under 18", required=False)
    image = forms.FileField(
        label="Screenshot or image (optional)",
        required=False,
        help_text="JPEG, PNG, GIF or WebP. It is stored privately and seen only by trained reviewers.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}
        ),
    )

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        if not upload:
            return None
        if upload.size > settings.MAX_UPLOAD_BYTES:
            mb = settings.MAX_UPLOAD_BYTES // (1024 * 1024)
            raise forms.ValidationError(f"That file is too large. Images can be up to {mb} MB.")
        try:
            with Image.open(upload) as image:
                image_format = image.format
                image.verify()
        except Image.DecompressionBombError:
            raise forms.ValidationError("That image is too large to process.") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise forms.ValidationError(
                "That file is not an image we can read. Please attach a JPEG, PNG, GIF or WebP."
            ) from None
        if image_format not in ACCEPTED_IMAGE_FORMATS:
            raise forms.ValidationError("Please attach a JPEG, PNG, GIF or WebP image.")
        upload.seek(0)
        # Trust what the file is, not what the browser says it is.
        upload.content_type = ACCEPTED_IMAGE_FORMATS[image_format]
        return upload
