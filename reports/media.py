"""Checking and storing incoming media (images and videos), for the form and the API alike.

A file is checked before anything is written: it must be one of the accepted formats by its bytes
(not its name or the sender's word) and stay under the size and pixel limits (no decompression
bombs). An image must decode completely (no truncation); a video must be in an accepted container
with a video stream whose first frame decodes, within the duration limit (reports/video.py; the
rest is decoded by the hashing job, which keeps what it could hash of a file damaged further on).
Accepted files are stored in private storage under their SHA-256, so the same file sent a
thousand times is stored once.
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

from reports.video import (
    NotAVideo,
    VideoInfo,
    VideoRejected,
    inspect_video_bytes,
    sniff_extension_mismatch,
)

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


class MediaRejected(Exception):
    """A file we will not accept, with an HTTP status, a machine code and words for people."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class IncomingMedia:
    """A checked image or video, ready to store."""

    data: bytes
    filename: str
    mime: str
    width: int
    height: int
    sha256: str
    # The name's extension says one format and the bytes another (e.g. a PNG called .jpg).
    extension_mismatch: bool
    # What the container says of a video (None: an image).
    video: VideoInfo | None = None

    @property
    def kind(self) -> str:
        return "video" if self.video is not None else "image"

    def media_fields(self, file: str) -> dict:
        """The Media row's fields for this file, stored as `file`."""
        fields = {
            "file": file,
            "original_filename": self.filename[:255],
            "kind": self.kind,
            "mime": self.mime,
            "size": len(self.data),
            "width": self.width,
            "height": self.height,
            "sha256": self.sha256,
        }
        if self.video is not None:
            fields.update(
                container=self.video.container,
                codec=self.video.codec[:32],
                duration=self.video.duration,
                frame_rate=self.video.frame_rate,
                rotation=self.video.rotation,
            )
        return fields


def inspect_media(data: bytes, *, filename: str) -> IncomingMedia:
    """Check an image or a video (told apart by their bytes)."""
    if not data:
        raise MediaRejected("empty_file", f"{filename}: the file is empty.", 422)
    if is_image_file(data):
        return inspect_image(data, filename=filename)
    if len(data) > settings.MAX_VIDEO_BYTES:
        raise _too_large(filename, "videos", settings.MAX_VIDEO_BYTES)
    try:
        info = inspect_video_bytes(data)
    except NotAVideo:
        raise MediaRejected(
            "not_an_image",
            f"{filename}: not an image or a video (JPEG, PNG, GIF or WebP; MP4, MOV, WebM, MKV or "
            "AVI expected).",
            415,
        ) from None
    except VideoRejected as e:
        raise MediaRejected(e.code, f"{filename}: {e.message}", e.status) from None
    return IncomingMedia(
        data=data,
        filename=filename,
        mime=info.mime,
        width=info.width,
        height=info.height,
        sha256=hashlib.sha256(data).hexdigest(),
        extension_mismatch=sniff_extension_mismatch(info, filename),
        video=info,
    )


def _too_large(filename: str, kind: str, limit: int) -> MediaRejected:
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    return MediaRejected(
        "file_too_large", f"{filename}: that file is too large; {kind} can be up to {size}.", 413
    )


def is_image_file(data: bytes) -> bool:
    """Whether Pillow recognises the bytes (a whole file, or its first 64 KB) as an image of any
    format, reading the header only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)):
                return True
    except UnidentifiedImageError:
        return False
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError):
        return True  # an image Pillow knows, too large or broken: inspect_image says which


def inspect_image(data: bytes, *, filename: str) -> IncomingMedia:
    if len(data) > settings.MAX_UPLOAD_BYTES:
        raise _too_large(filename, "images", settings.MAX_UPLOAD_BYTES)
    if not data:
        raise MediaRejected("empty_file", f"{filename}: the file is empty.", 422)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                width, height = image.size
                if image_format not in ACCEPTED_FORMATS:
                    raise MediaRejected(
                        "unsupported_image_type",
                        f"{filename}: {image_format} images are not accepted; send JPEG, PNG, GIF or WebP.",
                        415,
                    )
                # Decode every pixel: a truncated or corrupt file fails here, not in a worker.
                image.load()
    except MediaRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaRejected(
            "image_too_large",
            f"{filename}: too many pixels to process safely (over {Image.MAX_IMAGE_PIXELS:,}).",
            413,
        ) from None
    except UnidentifiedImageError:
        raise MediaRejected(
            "not_an_image", f"{filename}: not an image (JPEG, PNG, GIF or WebP expected).", 415
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise MediaRejected(
            "corrupt_image", f"{filename}: the image is truncated or corrupt.", 422
        ) from None

    extension = PurePath(filename).suffix.lower()
    return IncomingMedia(
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


def store_media(media: IncomingMedia) -> str:
    """Write the file to private storage unless an identical one is there already.

    The file is written under a temporary name and renamed into place, so a crash mid-write never
    leaves a partial file under the real name (which every later identical upload would trust).
    """
    name = storage_name(media.sha256)
    if default_storage.exists(name):
        return name
    temporary = default_storage.save(f"{name}.part-{secrets.token_hex(4)}", ContentFile(media.data))
    try:
        os.replace(default_storage.path(temporary), default_storage.path(name))
    except OSError:
        default_storage.delete(temporary)
        raise
    return name
