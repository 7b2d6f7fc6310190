"""Checking and storing incoming images, for the form and the API alike.

An image is checked before anything is written: it must be one of the accepted formats by its
bytes (not its name or the sender's word), decode completely (no truncation), and stay under the
size and pixel limits (no decompression bombs). Accepted files are stored in private storage under
their SHA-256, so the same file sent a thousand times is stored once.
"""

import hashlib
import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
EXTENSIONS = {
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "PNG": {".png"},
    "GIF": {".gif"},
    "WEBP": {".webp"},
}


class ImageRejected(Exception):
    """An image we will not accept, with an HTTP status, a machine code and words for people."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class IncomingImage:
    """A checked image, ready to store."""

    data: bytes
    filename: str
    mime: str
    width: int
    height: int
    sha256: str
    # The name's extension says one format and the bytes another (e.g. a PNG called .jpg).
    extension_mismatch: bool


def inspect_image(data: bytes, *, filename: str) -> IncomingImage:
    max_bytes = settings.MAX_UPLOAD_BYTES
    if len(data) > max_bytes:
        raise ImageRejected(
            "file_too_large", f"{filename}: larger than {max_bytes // (1024 * 1024)} MB.", 413
        )
    if not data:
        raise ImageRejected("empty_file", f"{filename}: the file is empty.", 422)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                width, height = image.size
                if image_format not in ACCEPTED_FORMATS:
                    raise ImageRejected(
                        "unsupported_image_type",
                        f"{filename}: {image_format} images are not accepted; send JPEG, PNG, GIF or WebP.",
                        415,
                    )
                # Decode every pixel: a truncated or corrupt file fails here, not in a worker.
                image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            "image_too_large",
            f"{filename}: too many pixels to process safely (over {Image.MAX_IMAGE_PIXELS:,}).",
            413,
        ) from None
    except UnidentifiedImageError:
        raise ImageRejected(
            "not_an_image", f"{filename}: not an image (JPEG, PNG, GIF or WebP expected).", 415
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageRejected(
            "corrupt_image", f"{filename}: the image is truncated or corrupt.", 422
        ) from None

    extension = PurePath(filename).suffix.lower()
    return IncomingImage(
        data=data,
        filename=filename,
        mime=ACCEPTED_FORMATS[image_format],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        extension_mismatch=bool(extension) and extension not in EXTENSIONS[image_format],
    )


def storage_name(sha256: str) -> str:
    return f"media/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def store_image(image: IncomingImage) -> str:
    """Write the file to private storage unless an identical one is there already.

    The file is written under a temporary name and renamed into place, so a crash mid-write never
    leaves a partial file under the real name (which every later identical upload would trust).
    """
    name = storage_name(image.sha256)
    if default_storage.exists(name):
        return name
    temporary = default_storage.save(f"{name}.part-{secrets.token_hex(4)}", ContentFile(image.data))
    try:
        os.replace(default_storage.path(temporary), default_storage.path(name))
    except OSError:
        default_storage.delete(temporary)
        raise
    return name
