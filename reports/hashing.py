"""Hashing images: exact (SHA-256, MD5) and perceptual (PDQ with quality, pHash, dHash).

PDQ must agree with Meta's reference hasher (tests/reports/test_hash_conformance.py): images are
converted to 8-bit RGB first — CMYK, palette, 1-bit and 16-bit images otherwise hash wrongly — and EXIF
orientation is recorded but not applied, as the reference does not apply it. Very large images are
reduced before the perceptual hashes (which look at a few dozen pixels a side in the end): a
12-megapixel photo is decoded at a quarter of its size by the JPEG decoder itself, and PDQ stays within
a few bits of the full-resolution hash at a fifth of the cost (bench/hashing.py, docs/performance.md).
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

import imagehash
import numpy as np
import pdqhash
from PIL import Image, UnidentifiedImageError

# Perceptual hashes of images larger than this (longest side) are taken from a reduced copy...
MAX_HASH_SIDE = 2048
# ...reduced by a whole factor (in the JPEG decoder, by DCT scaling, when it can) to about this
# longest side, never less: 4000x3000 is hashed at 1000x750, 3000x2200 at 1500x1100.
HASH_SIDE = 1000
EXIF_ORIENTATION = 0x0112


class Unhashable(Exception):
    """The file's exact hashes are known but it cannot be decoded for perceptual hashing."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PerceptualHashes:
    pdq: str
    pdq_quality: int
    # The PDQ hashes of the eight rotations and mirror images, the image itself first.
    pdq_dihedral: tuple[str, ...]
    phash: str
    dhash: str
    width: int
    height: int
    exif_orientation: int | None


def exact_hashes(chunks) -> tuple[str, str, int]:
    """SHA-256, MD5 and size of a stream of byte chunks."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    for chunk in chunks:
        sha256.update(chunk)
        md5.update(chunk)
        size += len(chunk)
    return sha256.hexdigest(), md5.hexdigest(), size


def bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB, whatever the mode. 16-bit and 32-bit greyscale are scaled, not clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        image = Image.fromarray(np.clip(pixels / top * 255.0, 0, 255).astype(np.uint8), "L")
    return image if image.mode == "RGB" else image.convert("RGB")


def reduction(size: tuple[int, int]) -> int:
    """The whole factor that brings a large image's longest side down to about HASH_SIDE."""
    return max(1, min(max(size) // HASH_SIDE, min(size) // 2))


def open_image(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded image (large JPEGs already reduced by the decoder) and its full size."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            size = image.size
            factor = reduction(size) if max(size) > MAX_HASH_SIDE else 1
            if factor > 1 and image.format == "JPEG":
                # Let the JPEG decoder skip detail we would throw away anyway: it scales by 1/2, 1/4
                # or 1/8 while decoding, to no less than the size asked for.
                image.draft("RGB", (max(1, size[0] // factor), max(1, size[1] // factor)))
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Unhashable("too many pixels to decode safely") from None
        except UnidentifiedImageError:
            raise Unhashable("not an image Pillow can read") from None
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise Unhashable(f"truncated or corrupt image ({e})") from None
    return image, size


def perceptual_hashes(data: bytes) -> PerceptualHashes:
    image, (width, height) = open_image(data)
    orientation = image.getexif().get(EXIF_ORIENTATION)
    rgb = to_rgb(image)
    if max(width, height) > MAX_HASH_SIDE and reduction(rgb.size) > 1:
        # What the decoder did not reduce (other formats, or factors it cannot scale by) is reduced
        # here, by averaging whole blocks of pixels.
        rgb = rgb.reduce(reduction(rgb.size))
    if min(rgb.size) < 2:
        raise Unhashable(f"too small to hash ({width}x{height})")
    # One pass gives the image's hash and its seven rotations and mirror images.
    variants, quality = pdqhash.compute_dihedral(np.asarray(rgb))
    dihedral = tuple(bits_to_hex(v) for v in variants)
    return PerceptualHashes(
        pdq=dihedral[0],
        pdq_quality=int(quality),
        pdq_dihedral=dihedral,
        phash=str(imagehash.phash(rgb)),
        dhash=str(imagehash.dhash(rgb)),
        width=width,
        height=height,
        # Orientation is 1 to 8; anything else in the tag is noise, not evidence.
        exif_orientation=orientation
        if isinstance(orientation, int) and 1 <= orientation <= 8
        else None,
    )


def pdq_dihedral(data: bytes) -> list[str]:
    """The PDQ hashes of the image's eight rotations and mirror images (the first is the image)."""
    return list(perceptual_hashes(data).pdq_dihedral)


def hash_bytes(data: bytes) -> dict:
    """Every hash of a file, as stored on Media and printed by `manage.py hash_media`."""
    sha256, md5, size = exact_hashes([data])
    result = {"sha256": sha256, "md5": md5, "size": size}
    try:
        p = perceptual_hashes(data)
    except Unhashable as e:
        return {**result, "unhashable": e.reason}
    return {
        **result,
        "pdq": p.pdq,
        "pdq_quality": p.pdq_quality,
        "phash": p.phash,
        "dhash": p.dhash,
        "width": p.width,
        "height": p.height,
        "exif_orientation": p.exif_orientation,
    }
