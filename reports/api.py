"""Intake API: reports and flags forwarded by the platform (see SPEC.md, "Public contract")."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from ninja import Field, Router, Schema, Status
from pydantic import AfterValidator, BeforeValidator, IPvAnyAddress, StrictBool, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import core_schema

from lib.api import (
    ERRORS,
    ApiError,
    Name,
    Text,
    Timestamp,
    require_scope,
    strict_int,
    strict_number,
    strict_str,
)
from moderation.cases.route_rules import BCP47_PATTERN, normalise_language
from moderation.notices.selectors import STANDINGS, report_standing
from reports.batch import FlagIntake, FlagStored, flag_intake_submit, flag_submit_batch
from reports.categories import Category
from reports.content import ContentFacts
from reports.content import IpCaptureIn as IpCaptureData
from reports.conversation_intake import NotAConversation, conversation_report_submit
from reports.conversation_schemas import ConversationIn, Email, Link, Links, conversation_facts
from reports.media import IncomingMedia
from reports.models import IP_CAPTURE_EVENTS, REFERENCE_ALPHABET, ContentItem, Report
from reports.services import report_submit
from reports.uploads import MediaIn, decode_media

router = Router(tags=["intake"])

MAX_FLAGS_PER_BATCH = 500
# More than anyone's audience: larger is a bug on the sender's side.
MAX_REACH = 10**12
CategoryName = Literal[tuple(Category.values)]  # type: ignore[valid-type]
ContentType = Literal[tuple(ContentItem.Type.values)]  # type: ignore[valid-type]
ReporterKind = Literal[tuple(Report.ReporterKind.values)]  # type: ignore[valid-type]
IpCaptureEvent = Literal[tuple(IP_CAPTURE_EVENTS)]  # type: ignore[valid-type]
Standing = Literal[STANDINGS]  # type: ignore[valid-type]
MAX_IP_CAPTURES = 100
REFERENCE_SHAPE = re.compile(f"VR-[{REFERENCE_ALPHABET}]{{4}}-[{REFERENCE_ALPHABET}]{{4}}")
# What the form's e-mail field and the reporter-identity column take (RFC 5321's path limit).
MAX_EMAIL_LENGTH = 254


def _language(value: str) -> str:
    return normalise_language(value)


def _http_url(value: str) -> str:
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except DjangoValidationError:
            raise ValueError("must be an http(s) URL") from None
    return value


def _usable_email(value: str) -> bool:
    if len(value) > MAX_EMAIL_LENGTH:
        return False
    try:
        validate_email(value)
    except DjangoValidationError:
        return False
    return True


class IpCaptureIn(Schema):
    ip: Annotated[
        IPvAnyAddress,
        BeforeValidator(strict_str),
        Field(description="An IPv4 or IPv6 address the content's owner used."),
    ]
    event: IpCaptureEvent = Field(
        "Unknown", description="What the owner did from it (the CyberTipline's ipCaptureType)."
    )
    time: Timestamp = Field(description="When, in ISO 8601 with a time zone.")


class ContentIn(Schema):
    id: Name(255, 1, description="The platform's id for the content.")
    url: Annotated[Text(2000), AfterValidator(_http_url)] = ""
    type: ContentType = "other"
    owner_id: Name(255) = ""
    owner_handle: Name(255) = ""
    owner_email: Email = Field(
        "",
        description="The owner's e-mail address as the platform holds it: reported to "
        "child-protection authorities with the owner. Never the reporter's.",
    )
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
            BeforeValidator(strict_int),
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


class ReporterIn(Schema):
    kind: ReporterKind = "platform_user"
    account_id: Name(255) = ""
    email: Text(
        settings.MAX_TEXT_LENGTH,
        description="The reporter's e-mail address, kept apart from the report (supervisors "
        "only). One that is not a usable address (malformed, or over 254 characters) does not "
        "cost the report: it is accepted without the address and the answer's `warnings` say "
        "so.",
    ) = ""
    notify: StrictBool = Field(
        False,
        description="The reporter asked to hear back: Vigil e-mails them at `email` that the "
        "report was received and, once reviewed, whether action was taken (never which action "
        "or against whom). Default false: the address is only kept.",
    )
    ip: IPvAnyAddress | None = None


class IntakeIn(Schema):
    content: ContentIn
    category: CategoryName
    description: Text(settings.MAX_TEXT_LENGTH) = ""
    involves_child: StrictBool = False
    media: list[MediaIn] = Field(default_factory=list, max_length=settings.MAX_MEDIA_PER_REPORT)
    links: list[Link] = Links


class ReportIn(IntakeIn):
    reporter: ReporterIn | None = None
    conversation: ConversationIn | None = Field(
        None,
        description="A conversation reported as a whole (grooming, enticement, sextortion "
        "happen in one): its participants with their ages and the reported messages with "
        "their neighbours. `content` is then the conversation (`id`: the platform's "
        "conversation id; `type` conversation or left out). Every report of the same "
        "conversation adds to one case and one thread.",
    )

    @model_validator(mode="after")
    def _conversation_is_the_content(self):
        if self.conversation is not None and self.content.type not in ("other", "conversation"):
            raise ValueError(
                f"a report with a conversation is about the conversation: content.type must "
                f"be 'conversation', not {self.content.type!r}"
            )
        return self


class FlagIn(IntakeIn):
    source: Text(100, 1, description="The system that raised the flag, e.g. a classifier's name.")
    external_id: Text(
        255,
        1,
        description="The flag's id in that system: (source, external_id) "
        "makes a repeat of the same flag harmless.",
    )
    score: Annotated[float, BeforeValidator(strict_number), Field(ge=0, le=1)]
    model_version: Text(100) = ""


class LooseFlag:
    """A flag of a batch as it came: each is checked against FlagIn on its own (post_flag_batch),
    so one bad flag is that flag's error, not the whole request's. Documented as FlagIn."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        return core_schema.any_schema()

    @classmethod
    def __get_pydantic_json_schema__(cls, schema, handler):
        return handler(FlagIn.__pydantic_core_schema__)


class FlagBatchIn(Schema):
    flags: list[LooseFlag] = Field(
        min_length=1,
        max_length=MAX_FLAGS_PER_BATCH,
        description=f"1 to {MAX_FLAGS_PER_BATCH} flags, each as POST /api/v1/flags takes one. "
        "Each is checked and stored on its own: a bad one gets an error in its place in "
        "`results` and the others are stored.",
    )


class WarningOut(Schema):
    field: str = Field(description="The field in the request, as a dotted path.")
    code: str
    detail: str


class ReportOut(Schema):
    reference: str
    case_id: int
    warnings: list[WarningOut] | None = Field(
        None,
        description="Present when part of the request was set aside and the report accepted "
        "without it (a malformed reporter e-mail address, say).",
    )


class ReportStandingOut(Schema):
    reference: str
    received_at: datetime
    status: Standing = Field(
        description="received (waiting in a queue), under_review (a reviewer has it, or it "
        "waits for a senior reviewer), actioned (action was taken on the content) or no_action "
        "(reviewed, no violation found). The latest decision counts: an appeal can change it."
    )


class FlagOut(Schema):
    flag_id: int = Field(description="The stored flag.")
    case_id: int = Field(description="The case it rolled up into.")
    created: bool = Field(
        description="False when a flag with this source and external_id was already stored (or "
        "came earlier in the same batch): these are its ids, and nothing was changed."
    )


class FlagErrorOut(Schema):
    error: str = Field(
        description="The code POST /api/v1/flags gives for the same problem: invalid_request, "
        "invalid_media, not_an_image, corrupt_image, empty_file, unsupported_image_type, "
        "media_type_mismatch, file_too_large, image_too_large; for videos "
        "unsupported_video_type, no_video_stream, corrupt_video, video_too_large, "
        "video_too_long; or not_stored when the "
        "database refused the flag (sending it again is safe)."
    )
    status: int = Field(
        description="The HTTP status POST /api/v1/flags would answer for this flag alone "
        "(422, 415, 413; 409 for not_stored)."
    )
    detail: Any = Field(
        description="As POST /api/v1/flags gives it, with `loc` starting from the batch: "
        '["flags", "<index>", ...], e.g. ["flags", "3", "score"] or ["flags", "3", "media", 0].'
    )


class FlagBatchOut(Schema):
    results: list[FlagOut | FlagErrorOut] = Field(
        description="One result per flag sent, in the same order: the stored flag (FlagOut), or "
        "why this flag was not stored (FlagErrorOut), in which case nothing of it was written."
    )


def _content_facts(content: ContentIn) -> ContentFacts:
    return ContentFacts(
        platform_id=content.id,
        url=content.url,
        type=content.type,
        owner_id=content.owner_id,
        owner_handle=content.owner_handle,
        owner_email=content.owner_email,
        language=content.language,
        reach=content.reach,
        posted_at=content.posted_at,
        publicly_available=content.publicly_available,
        ip_captures=[
            IpCaptureData(ip=str(c.ip), event=c.event, captured_at=c.time)
            for c in content.ip_captures
        ],
    )


def _reporter_email(reporter: ReporterIn) -> tuple[str, list[dict]]:
    """The reporter's address if usable, and warnings for what was set aside. A bad address is
    the reporter's typo, not the platform's bug: it never costs the report."""
    email, warnings = reporter.email.strip(), []
    if email and not _usable_email(email):
        email = ""
        warnings.append(
            {
                "field": "reporter.email",
                "code": "email_dropped",
                "detail": "Not a usable e-mail address: the report was accepted without it"
                + (", so no notices will be sent." if reporter.notify else "."),
            }
        )
    elif reporter.notify and not email:
        warnings.append(
            {
                "field": "reporter.notify",
                "code": "no_email",
                "detail": "No e-mail address to notify: no notices will be sent.",
            }
        )
    return email, warnings


@router.post(
    "/reports",
    response={201: ReportOut, **ERRORS},
    summary="Forward a user report",
    exclude_none=True,
)
def post_report(request, payload: ReportIn):
    """Needs the `report` scope. 201 with the report's `reference` (the reporter's, and the key
    to GET /reports/{reference}) and `case_id`; `warnings` only when something was set aside."""
    principal = require_scope(request, "report")
    images = decode_media(payload.media)
    conversation = conversation_facts(payload.conversation) if payload.conversation else None
    reporter = payload.reporter or ReporterIn()
    email, warnings = _reporter_email(reporter)
    fields = dict(
        category=payload.category,
        description=payload.description,
        involves_child=payload.involves_child,
        images=images,
        links=payload.links,
        reporter_kind=reporter.kind,
        reporter_account_id=reporter.account_id,
        reporter_email=email,
        reporter_notify=reporter.notify,
        reporter_ip=str(reporter.ip) if reporter.ip else None,
        source=Report.Source.API,
        submitted_by=principal.user,
        actor_label=principal.label,
        content=_content_facts(payload.content),
    )
    if conversation is None:
        report = report_submit(**fields)
    else:
        try:
            stored = conversation_report_submit(conversation=conversation, **fields)
        except NotAConversation as e:
            raise ApiError(409, "not_a_conversation", str(e)) from None
        report = stored.report
        warnings += stored.warnings
    return Status(
        201,
        {"reference": report.reference, "case_id": report.case_id, "warnings": warnings or None},
    )


@router.get(
    "/reports/{reference}",
    response={200: ReportStandingOut, **ERRORS},
    summary="How a report the caller forwarded stands",
)
def get_report(request, reference: str):
    """Needs the `read` or `report` scope. Whether the report waits, is under review, or was
    decided with action taken or not: what its reporter's outcome e-mail says, never which
    action, against whom, or by whom. Only the account that forwarded a report sees it: any
    other reference answers 404."""
    principal = request.auth
    if not principal.scopes & {"read", "report"}:
        raise ApiError(403, "forbidden", "This call needs the 'read' or 'report' scope.")
    reference = reference.strip().upper()
    report = None
    if REFERENCE_SHAPE.fullmatch(reference):
        report = (
            Report.objects.select_related("case")
            .filter(reference=reference, submitted_by=principal.user)
            .first()
        )
    if report is None:
        raise ApiError(404, "not_found", "No such report.")
    return Status(
        200,
        {
            "reference": report.reference,
            "received_at": report.created_at,
            "status": report_standing(report),
        },
    )


def _intake(flag: FlagIn, images: list[IncomingMedia]) -> FlagIntake:
    return FlagIntake(
        source=flag.source,
        external_id=flag.external_id,
        category=flag.category,
        score=flag.score,
        content=_content_facts(flag.content),
        model_version=flag.model_version,
        description=flag.description,
        involves_child=flag.involves_child,
        images=images,
        links=flag.links,
    )


@router.post(
    "/flags",
    response={200: FlagOut, 201: FlagOut, **ERRORS},
    summary="Send an automated flag (idempotent on source + external_id)",
)
def post_flag(request, payload: FlagIn):
    principal = require_scope(request, "flag")
    created_flag, created = flag_intake_submit(
        _intake(payload, decode_media(payload.media)),
        submitted_by=principal.user,
        actor_label=principal.label,
    )
    result = {"flag_id": created_flag.pk, "case_id": created_flag.case_id, "created": created}
    return Status(201 if created else 200, result)


@router.post(
    "/flags/batch",
    response={200: FlagBatchOut, **ERRORS},
    summary=f"Send up to {MAX_FLAGS_PER_BATCH} flags at once",
)
def post_flag_batch(request, payload: FlagBatchIn):
    """Needs the `flag` scope. Each flag is checked and stored on its own, as POST /api/v1/flags
    would: 200 with one result per flag, in order — its `flag_id`, `case_id` and `created`, or
    its error (`error`, `status`, `detail`) — and a bad flag never stops the others. Each flag is
    all or nothing: its flag, its case's roll-up, its media and their hashing job are all stored,
    or none. Idempotent on source + external_id, within the batch too, so a retried batch is
    harmless. Only a problem with the whole request is a 4xx: credentials or scope, malformed
    JSON, no flags or more than the limit, a body over the size limit."""
    principal = require_scope(request, "flag")
    results: list[dict | None] = [None] * len(payload.flags)
    intakes, places = [], []
    for i, raw in enumerate(payload.flags):
        intake = _flag_intake(raw, i)
        if isinstance(intake, dict):
            results[i] = intake
        else:
            intakes.append(intake)
            places.append(i)
    stored = flag_submit_batch(
        flags=intakes, submitted_by=principal.user, actor_label=principal.label
    )
    for i, result in zip(places, stored, strict=True):
        if isinstance(result, FlagStored):
            results[i] = {
                "flag_id": result.flag_id,
                "case_id": result.case_id,
                "created": result.created,
            }
        else:
            results[i] = {"error": result.error, "status": 409, "detail": result.detail}
    return Status(200, {"results": results})


def _flag_intake(raw: Any, i: int) -> FlagIntake | dict:
    """One flag of a batch checked as POST /api/v1/flags checks it: the flag to store, or its
    error with the single endpoint's code, status and detail, located from the batch."""
    at = ["flags", str(i)]
    try:
        flag = FlagIn.model_validate(raw)
    except PydanticValidationError as e:
        detail = [
            {"loc": at + [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in e.errors()
        ]
        return {"error": "invalid_request", "status": 422, "detail": detail}
    try:
        images = decode_media(flag.media)
    except ApiError as e:
        return {
            "error": e.error,
            "status": e.status,
            "detail": {**e.detail, "loc": at + e.detail["loc"]},
        }
    return _intake(flag, images)
