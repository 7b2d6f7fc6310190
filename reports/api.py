"""Intake API: reports and flags forwarded by the platform (see SPEC.md, "Public contract")."""

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from ninja import Field, Router, Schema, Status
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, IPvAnyAddress, StrictBool

from lib.api import ERRORS, ApiError, require_scope
from lib.text import storable_text
from moderation.cases.routing import BCP47_PATTERN, normalise_language
from reports.categories import Category
from reports.media import ImageRejected, IncomingImage, inspect_image
from reports.models import IP_CAPTURE_EVENTS, ContentItem, Report
from reports.services import IpCaptureIn as IpCaptureData
from reports.services import flag_submit, report_submit

router = Router(tags=["intake"])

MAX_FLAGS_PER_BATCH = 500
# More than anyone's audience: larger is a bug on the sender's side.
MAX_REACH = 10**12
CategoryName = Literal[tuple(Category.values)]  # type: ignore[valid-type]
ContentType = Literal[tuple(ContentItem.Type.values)]  # type: ignore[valid-type]
ReporterKind = Literal[tuple(Report.ReporterKind.values)]  # type: ignore[valid-type]
IpCaptureEvent = Literal[tuple(IP_CAPTURE_EVENTS)]  # type: ignore[valid-type]
MAX_IP_CAPTURES = 100


def _strict_str(value: Any) -> Any:
    # Pydantic would turn 123 into "123"; a platform sending a number where a string belongs has a
    # bug worth hearing about.
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return storable_text(value)


def _strict_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


def _strict_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def _iso_string(value: Any) -> Any:
    # Pydantic would also take a Unix timestamp; a number is ambiguous (seconds? milliseconds?)
    # where the authority needs an exact time, so only ISO 8601 text with a time zone is accepted.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time with a time zone, as a string")
    return value


def _in_utc(value: datetime) -> datetime:
    # Stored (and sent to the authority) in UTC: 0001-01-01T00:00+05:00 has no UTC time.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a time between the years 1 and 9999 in UTC") from None


# ISO 8601 with an explicit offset or Z, e.g. 2026-11-20T14:03:00Z.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_in_utc)]


def _language(value: str) -> str:
    return normalise_language(value)


def _http_url(value: str) -> str:
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except DjangoValidationError:
            raise ValueError("must be an http(s) URL") from None
    return value


def _email(value: str) -> str:
    if value:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise ValueError("must be an email address") from None
    return value


def Text(max_length: int, min_length: int = 0, **kwargs):  # noqa: N802 - a type factory
    return Annotated[
        str,
        BeforeValidator(_strict_str),
        Field(min_length=min_length, max_length=max_length, **kwargs),
    ]


class IpCaptureIn(Schema):
    ip: Annotated[
        IPvAnyAddress,
        BeforeValidator(_strict_str),
        Field(description="An IPv4 or IPv6 address the content's owner used."),
    ]
    event: IpCaptureEvent = Field(
        "Unknown", description="What the owner did from it (the CyberTipline's ipCaptureType)."
    )
    time: Timestamp = Field(description="When, in ISO 8601 with a time zone.")


class ContentIn(Schema):
    id: Text(255, 1, description="The platform's id for the content.")
    url: Annotated[Text(2000), AfterValidator(_http_url)] = ""
    type: ContentType = "other"
    owner_id: Text(255) = ""
    owner_handle: Text(255) = ""
    language: Annotated[
        Text(
            35,
            description="The content's language as a BCP 47 tag, e.g. en, pt-BR, zh-Hant.",
            # Documented for callers and the fuzzer; _language is what checks it.
            json_schema_extra={"pattern": f"^$|{BCP47_PATTERN}"},
        ),
        AfterValidator(_language),
    ] = ""
    reach: (
        Annotated[
            int,
            BeforeValidator(_strict_int),
            Field(ge=0, le=MAX_REACH, description="Views or audience size, if known."),
        ]
        | None
    ) = None
    posted_at: Timestamp | None = Field(
        None,
        description="When the owner posted or uploaded it to the platform (ISO 8601 with a time "
        "zone).",
    )
    publicly_available: StrictBool | None = Field(
        None, description="Whether anyone online could see it, if known."
    )
    ip_captures: list[IpCaptureIn] = Field(
        default_factory=list,
        max_length=MAX_IP_CAPTURES,
        description="IP addresses the content's owner used (login, upload, ...) and when: "
        "reported to child-protection authorities with the owner. Never the reporter's.",
    )


class MediaIn(Schema):
    filename: Text(255, 1)
    # Base64 of at most MAX_UPLOAD_BYTES (checked after decoding, with a clearer error).
    data_base64: Text(((settings.MAX_UPLOAD_BYTES + 2) // 3) * 4 + 4, 1)


class ReporterIn(Schema):
    kind: ReporterKind = "platform_user"
    account_id: Text(255) = ""
    email: Annotated[Text(254), AfterValidator(_email)] = ""
    ip: IPvAnyAddress | None = None


class IntakeIn(Schema):
    content: ContentIn
    category: CategoryName
    description: Text(settings.MAX_TEXT_LENGTH) = ""
    involves_child: StrictBool = False
    media: list[MediaIn] = Field(default_factory=list, max_length=settings.MAX_MEDIA_PER_REPORT)


class ReportIn(IntakeIn):
    reporter: ReporterIn | None = None


class FlagIn(IntakeIn):
    source: Text(100, 1, description="The system that raised the flag, e.g. a classifier's name.")
    external_id: Text(
        255,
        1,
        description="The flag's id in that system: (source, external_id) "
        "makes a repeat of the same flag harmless.",
    )
    score: Annotated[float, BeforeValidator(_strict_number), Field(ge=0, le=1)]
    model_version: Text(100) = ""


class FlagBatchIn(Schema):
    flags: list[FlagIn] = Field(min_length=1, max_length=MAX_FLAGS_PER_BATCH)


class ReportOut(Schema):
    reference: str
    case_id: int


class FlagOut(Schema):
    flag_id: int
    case_id: int
    created: bool


class FlagBatchOut(Schema):
    results: list[FlagOut]


def decode_media(media: list[MediaIn], *, path: str = "media") -> list[IncomingImage]:
    """Decode and check every image before anything is written: all or nothing."""
    images = []
    for i, m in enumerate(media):
        try:
            data = base64.b64decode(m.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                422, "invalid_media", {"loc": [path, i, "data_base64"], "msg": "not valid base64"}
            ) from None
        try:
            image = inspect_image(data, filename=m.filename)
        except ImageRejected as e:
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


def _content_kwargs(content: ContentIn) -> dict:
    return {
        "platform_id": content.id,
        "content_url": content.url,
        "content_type": content.type,
        "owner_id": content.owner_id,
        "owner_handle": content.owner_handle,
        "language": content.language,
        "reach": content.reach,
        "posted_at": content.posted_at,
        "publicly_available": content.publicly_available,
        "ip_captures": [
            IpCaptureData(ip=str(c.ip), event=c.event, captured_at=c.time)
            for c in content.ip_captures
        ],
    }


@router.post("/reports", response={201: ReportOut, **ERRORS}, summary="Forward a user report")
def post_report(request, payload: ReportIn):
    principal = require_scope(request, "report")
    images = decode_media(payload.media)
    reporter = payload.reporter or ReporterIn()
    report = report_submit(
        category=payload.category,
        description=payload.description,
        involves_child=payload.involves_child,
        images=images,
        reporter_kind=reporter.kind,
        reporter_account_id=reporter.account_id,
        reporter_email=reporter.email,
        reporter_ip=str(reporter.ip) if reporter.ip else None,
        source=Report.Source.API,
        submitted_by=principal.user,
        actor_label=principal.label,
        **_content_kwargs(payload.content),
    )
    return Status(201, {"reference": report.reference, "case_id": report.case_id})


def _submit_flag(flag: FlagIn, images: list[IncomingImage], principal) -> dict:
    created_flag, created = flag_submit(
        source=flag.source,
        external_id=flag.external_id,
        category=flag.category,
        score=flag.score,
        model_version=flag.model_version,
        description=flag.description,
        involves_child=flag.involves_child,
        images=images,
        submitted_by=principal.user,
        actor_label=principal.label,
        **_content_kwargs(flag.content),
    )
    return {"flag_id": created_flag.pk, "case_id": created_flag.case_id, "created": created}


@router.post(
    "/flags",
    response={200: FlagOut, 201: FlagOut, **ERRORS},
    summary="Send an automated flag (idempotent on source + external_id)",
)
def post_flag(request, payload: FlagIn):
    principal = require_scope(request, "flag")
    result = _submit_flag(payload, decode_media(payload.media), principal)
    return Status(201 if result["created"] else 200, result)


@router.post(
    "/flags/batch",
    response={200: FlagBatchOut, **ERRORS},
    summary=f"Send up to {MAX_FLAGS_PER_BATCH} flags at once",
)
def post_flag_batch(request, payload: FlagBatchIn):
    """Every flag and image is checked first; if any is bad, nothing is written (422/415/413
    naming it). Then each flag is stored in its own transaction, in order, so a failure part way
    keeps those already stored, and a retry of the whole batch is harmless (flags are idempotent)."""
    principal = require_scope(request, "flag")
    images = [
        decode_media(flag.media, path=f"flags.{i}.media") for i, flag in enumerate(payload.flags)
    ]
    results = [
        _submit_flag(flag, imgs, principal)
        for flag, imgs in zip(payload.flags, images, strict=True)
    ]
    return Status(200, {"results": results})
