"""Banks and hash lookup over the API: what platforms call before they even file a report."""

from typing import Annotated, Literal

from django.conf import settings
from django.db.models import Count, Q
from ninja import Router, Schema, Status
from pydantic import AfterValidator, Field

from lib.api import ERRORS, ApiError, require_scope
from lib.ratelimit import hit
from lib.text import storable_text
from moderation.audit.services import audit_record
from moderation.banks.matching import MalformedHash, find_matches, parse_hex
from moderation.banks.models import HEX_LENGTH, BankEntry, HashBank
from reports.hashing import Unhashable, exact_hashes, perceptual_hashes
from reports.uploads import MediaIn, decode_media

router = Router(tags=["hashes"])

SignalName = Literal[tuple(HEX_LENGTH)]  # type: ignore[valid-type]


class BankOut(Schema):
    slug: str
    name: str
    source: str
    signal_types: list[str]
    thresholds: dict[str, int]
    policy: str
    entries: int


class ImageIn(Schema):
    filename: Annotated[str, AfterValidator(storable_text)] = Field(min_length=1, max_length=255)
    data_base64: str = Field(min_length=1)


class LookupIn(Schema):
    signal_type: SignalName | None = None
    hash: Annotated[str, AfterValidator(storable_text)] | None = Field(None, max_length=200)
    image: ImageIn | None = None


class MatchOut(Schema):
    bank: str
    bank_name: str
    signal_type: str
    distance: int
    # For PDQ lookups by image: which rotation or mirror image of it matched (0 = as sent).
    variant: int | None


class LookupOut(Schema):
    matches: list[MatchOut]
    hashes: dict[str, str | int | None]


@router.get("/banks", response={200: list[BankOut], **ERRORS})
def list_banks(request):
    require_scope(request, "read")
    banks = HashBank.objects.filter(is_active=True).annotate(
        live=Count("entries", filter=Q(entries__removed_at__isnull=True))
    )
    return Status(
        200,
        [
            {
                "slug": b.slug,
                "name": b.name,
                "source": b.source,
                "signal_types": b.signal_types,
                "thresholds": {
                    t: b.threshold(t) for t in b.signal_types if t in ("pdq", "phash", "dhash")
                },
                "policy": b.policy,
                "entries": b.live,
            }
            for b in banks.order_by("slug")
        ],
    )


@router.post("/hashes/lookup", response={200: LookupOut, **ERRORS})
def lookup(request, payload: LookupIn):
    """Give a hash (`signal_type` + `hash`) or an image; get the banks it matches, with distances.
    Nothing is stored."""
    principal = require_scope(request, "read")
    # Distances answer "how close", so many lookups could map a bank's entries out: lookups have
    # their own, much lower limit, and each is audited.
    if wait := hit(f"hash-lookup:{principal.user.pk}", limit=settings.HASH_LOOKUPS_PER_MINUTE):
        raise ApiError(
            429,
            "rate_limited",
            "Too many hash lookups; try again shortly.",
            {"Retry-After": str(wait)},
        )
    if (payload.hash is None) == (payload.image is None):
        raise ApiError(422, "invalid_request", "Send either signal_type and hash, or image.")
    if payload.hash is not None:
        if payload.signal_type is None:
            raise ApiError(
                422, "invalid_request", {"loc": ["signal_type"], "msg": "required with hash"}
            )
        try:
            value = parse_hex(payload.signal_type, payload.hash)
        except MalformedHash as e:
            raise ApiError(422, "malformed_hash", {"loc": ["hash"], "msg": str(e)}) from None
        hashes = {payload.signal_type: value}
        hits = find_matches(
            **({"pdq_variants": [value]} if payload.signal_type == "pdq" else hashes)
        )
    else:
        (image,) = decode_media([MediaIn(**payload.image.dict())], path="image")
        try:
            p = perceptual_hashes(image.data)
        except Unhashable as e:
            raise ApiError(422, "unhashable_image", {"loc": ["image"], "msg": e.reason}) from None
        sha256, md5, _size = exact_hashes([image.data])
        hashes = {
            "pdq": p.pdq,
            "pdq_quality": p.pdq_quality,
            "phash": p.phash,
            "dhash": p.dhash,
            "md5": md5,
            "sha256": sha256,
        }
        hits = find_matches(
            pdq_variants=list(p.pdq_dihedral),
            pdq_quality=p.pdq_quality,
            phash=p.phash,
            dhash=p.dhash,
            md5=md5,
            sha256=sha256,
        )
    # One line per bank, its closest hit: enough to act on, and no list of the bank's entries.
    entries = BankEntry.objects.select_related("bank").in_bulk([h.entry_id for h in hits])
    per_bank: dict[int, tuple] = {}
    for h in hits:
        bank = entries[h.entry_id].bank
        if bank.pk not in per_bank or h.distance < per_bank[bank.pk][1].distance:
            per_bank[bank.pk] = (bank, h)
    audit_record(
        verb="hash.lookup",
        obj=principal.token or principal.user,
        actor=principal.user,
        actor_label=principal.label,
        after={
            "by": "hash" if payload.hash is not None else "image",
            "banks": sorted(b.slug for b, _ in per_bank.values()),
        },
    )
    return Status(
        200,
        {
            "matches": [
                {
                    "bank": bank.slug,
                    "bank_name": bank.name,
                    "signal_type": h.signal_type,
                    "distance": h.distance,
                    "variant": h.variant,
                }
                for bank, h in sorted(
                    per_bank.values(), key=lambda bh: (bh[1].distance, bh[0].slug)
                )
            ],
            "hashes": hashes,
        },
    )
