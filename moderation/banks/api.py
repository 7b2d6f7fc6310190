"""Banks and hash lookup over the API: what platforms call before they even file a report."""

from typing import Annotated, Literal

from django.conf import settings
from ninja import Router, Schema, Status
from pydantic import AfterValidator, Field

from lib.api import ERRORS, ApiError, require_scope
from lib.ratelimit import hit
from lib.text import storable_text
from moderation.banks.index import MalformedHash
from moderation.banks.lookup import bank_thresholds, banks_listed, hash_lookup, image_lookup
from moderation.banks.models import HEX_LENGTH
from reports.hashing import Unhashable
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


class ImageIn(MediaIn):
    """An image as the report API takes one: the same checks, so text the API refuses there
    (a NUL in its base64, say) is a 422 here too, never an error when it is decoded."""


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
    # Provenance of the entry hit (fields added to the answer; none changed): the programme (hash
    # exchange) it came from, if any, that programme's own id for it, and its labels.
    programme: str | None = Field(
        description="The hash exchange the entry came from (null: imported or learnt by review)."
    )
    source_id: str = Field(description="The programme's own id for the entry (empty if none).")
    labels: list[str] = Field(description="The entry's labels, e.g. category or grade.")


class LookupOut(Schema):
    matches: list[MatchOut]
    hashes: dict[str, str | int | None]


@router.get("/banks", response={200: list[BankOut], **ERRORS})
def list_banks(request):
    require_scope(request, "read")
    return Status(
        200,
        [
            {
                "slug": b.slug,
                "name": b.name,
                "source": b.source,
                "signal_types": b.signal_types,
                "thresholds": bank_thresholds(b),
                "policy": b.policy,
                "entries": b.live,
            }
            for b in banks_listed()
        ],
    )


@router.post("/hashes/lookup", response={200: LookupOut, **ERRORS})
def lookup(request, payload: LookupIn):
    """Give a hash (`signal_type` + `hash`) or an image; get the banks it matches, with distances,
    and where each entry hit came from (programme, its id there, labels). Nothing is stored."""
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
    who = {
        "actor": principal.user,
        "actor_label": principal.label,
        "obj": principal.token or principal.user,
    }
    if payload.hash is not None:
        if payload.signal_type is None:
            raise ApiError(
                422, "invalid_request", {"loc": ["signal_type"], "msg": "required with hash"}
            )
        try:
            result = hash_lookup(signal_type=payload.signal_type, value=payload.hash, **who)
        except MalformedHash as e:
            raise ApiError(422, "malformed_hash", {"loc": ["hash"], "msg": str(e)}) from None
    else:
        (image,) = decode_media([payload.image], path="image", videos=False)
        try:
            result = image_lookup(data=image.data, **who)
        except Unhashable as e:
            raise ApiError(422, "unhashable_image", {"loc": ["image"], "msg": e.reason}) from None
    # One line per bank, its closest hit: enough to act on, and no list of the bank's entries.
    return Status(
        200,
        {
            "matches": [
                {
                    "bank": m.bank.slug,
                    "bank_name": m.bank.name,
                    "signal_type": m.hit.signal_type,
                    "distance": m.hit.distance,
                    "variant": m.hit.variant,
                    "programme": m.entry.exchange.name if m.entry.exchange else None,
                    "source_id": m.entry.source_id,
                    "labels": [str(label) for label in m.entry.labels or []],
                }
                for m in result.matches
            ],
            "hashes": result.hashes,
        },
    )
