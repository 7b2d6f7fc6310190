"""Media sent through the API as base64: the schema, and the all-or-nothing check shared by
intake and the hash lookup (every file is checked before anything is written)."""

import base64
import binascii

from django.conf import settings
from ninja import Schema

from lib.api import ApiError, Text
from reports.media import IncomingMedia, MediaRejected, inspect_image, inspect_media


class MediaIn(Schema):
    filename: Text(255, 1)
    # Base64 of at most the larger of the image and video limits (each checked after decoding,
    # with a clearer error).
    data_base64: Text(
        ((max(settings.MAX_UPLOAD_BYTES, settings.MAX_VIDEO_BYTES) + 2) // 3) * 4 + 4, 1
    )


def decode_media(
    media: list[MediaIn], *, path: str = "media", videos: bool = True
) -> list[IncomingMedia]:
    """Decode and check every file before anything is written: all or nothing. `videos`: whether
    videos are accepted here (else images only)."""
    inspect = inspect_media if videos else inspect_image
    images = []
    for i, m in enumerate(media):
        try:
            data = base64.b64decode(m.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                422, "invalid_media", {"loc": [path, i, "data_base64"], "msg": "not valid base64"}
            ) from None
        try:
            image = inspect(data, filename=m.filename)
        except MediaRejected as e:
            raise ApiError(e.status, e.code, {"loc": [path, i], "msg": e.message}) from None
        if image.extension_mismatch:
            raise ApiError(
                415,
                "media_type_mismatch",
                {
                    "loc": [path, i, "filename"],
                    "msg": f"{m.filename}: the name says one type but the content is {image.mime}; "
                    "send the file under its real type.",
                },
            )
        images.append(image)
    return images
