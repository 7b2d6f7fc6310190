"""NCMEC CyberTipline XML: the `report` for an escalation and a `fileDetails` per evidence file,
built with lxml and checked against the CyberTipline's public schema.

The schema is vendored (moderation/escalations/schemas/cyber_tipline.xsd, a byte-identical copy of
../shared/schemas/cyber_tipline.xsd, checked by a test) so that production never depends on a
file outside the repository; it is parsed once per process.

Who is who. The report's `reporter` is the platform (the ESP) itself: its contact person from
settings (VIGIL_REPORTER_FIRST_NAME, _LAST_NAME, _EMAIL). `personOrUserReported` is the owner of
the escalated content. The end user who reported the content to the platform (ReporterIdentity)
appears nowhere in either XML: this module never reads it.

Ids. A fileDetails names the report and the file by the authority's ids, which exist only once a
report is opened through the API and a file uploaded. Packets assembled before that (to download
and submit by hand, or to keep) use the convention report_id=0 and file_id = the file's name in
the packet (e.g. "files/0001-<sha256>.jpg"); submission (moderation/escalations/submitter.py) builds the
fileDetails again with the ids the server issued.

Videos. The schema has no element for a video's duration, codec or dimensions, nor for a
perceptual video hash (vPDQ). A video's fileDetails has the elements every file has, its MD5 and
SHA-256 as `originalFileHash` (no PDQ: that is an image's), and one `additionalInfo` sentence
saying what the video is (moderation/escalations/video_evidence.py); its vPDQ travels in the
packet beside it, never in the XML.
"""

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path, PurePosixPath

from django.conf import settings
from lxml import etree

from moderation.decisions.models import Decision
from moderation.escalations.models import REPORT_ANNOTATIONS, Escalation, EscalationFile
from moderation.escalations.video_evidence import describe as describe_video
from reports.models import ContentItem, Flag, IpCapture, Report

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "cyber_tipline.xsd"

# Characters XML 1.0 cannot carry at all (lxml refuses them): dropped from free text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

# A validator's error log belongs to the validator, so concurrent validations (threads of a web
# server, the tests' fake authority) would read each other's errors: one at a time.
_validate_lock = threading.Lock()


@cache
def schema() -> etree.XMLSchema:
    """The CyberTipline schema, parsed once per process."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))


def validate(xml: bytes) -> list[str]:
    """The schema's complaints about a document, each with its line number; [] when valid."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        document = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as e:
        return [f"line {e.lineno}: not well-formed XML: {e.msg}"]
    if document.getroottree().docinfo.doctype:
        # The CyberTipline's documents have none; a DTD only brings entities (and their risks).
        return ["line 1: a DOCTYPE is not allowed"]
    validator = schema()
    with _validate_lock:
        try:
            if validator.validate(document):
                return []
        except etree.XMLSchemaValidateError as e:
            return [f"line 1: the document could not be validated: {e}"]
        return [f"line {error.line}: {error.message}" for error in validator.error_log]


def xml_datetime(value: datetime) -> str:
    """xs:dateTime in UTC to the second, e.g. 2026-11-20T09:15:00Z."""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _add(parent: etree._Element, tag: str, text=None, **attrs) -> etree._Element:
    element = etree.SubElement(parent, tag, {k: _text(str(v)) for k, v in attrs.items()})
    if text is not None:
        if isinstance(text, bool):
            text = "true" if text else "false"
        element.text = _text(str(text))
    return element


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _add_ip_capture(parent: etree._Element, capture: IpCapture) -> None:
    event = _add(parent, "ipCaptureEvent")
    _add(event, "ipAddress", capture.ip)
    _add(event, "eventName", capture.event)
    _add(event, "dateTime", xml_datetime(capture.captured_at))


def escalated_content(escalation: Escalation) -> list[ContentItem]:
    """The content items of the escalation's cases, oldest first, each once."""
    return list(ContentItem.objects.filter(cases__escalations=escalation).distinct().order_by("pk"))


def incident_time(escalation: Escalation, items: list[ContentItem]) -> tuple[datetime, str]:
    """When the incident happened, and how we know: the earliest posting time of the content
    when the platform gave one, else the first report or flag about it."""
    platform = settings.VIGIL_PLATFORM_NAME
    posted = [item.posted_at for item in items if item.posted_at]
    if posted:
        return min(posted), f"When the earliest reported content was posted to {platform}."
    cases = escalation.cases.all()
    first_signals = [
        Report.objects.filter(case__in=cases).order_by("created_at").first(),
        Flag.objects.filter(case__in=cases).order_by("created_at").first(),
    ]
    received = [signal.created_at for signal in first_signals if signal is not None]
    if received:
        return min(received), (
            f"The posting time is unknown: when {platform} first received a user report or an "
            "automated detection about the reported content."
        )
    return escalation.created_at, (
        f"The posting time is unknown: when {platform} opened this report internally."
    )


def report_xml(escalation: Escalation) -> bytes:
    """The CyberTipline `report` for an escalation."""
    platform = settings.VIGIL_PLATFORM_NAME
    items = escalated_content(escalation)
    root = etree.Element("report")

    summary = _add(root, "incidentSummary")
    _add(summary, "incidentType", escalation.incident_type)
    _add(summary, "platform", platform)
    if escalation.urgent:
        # Only when urgent: any text here asks the authority to escalate the report.
        _add(summary, "escalateToHighPriority", escalation.urgent_reason)
    annotations = [a for a in REPORT_ANNOTATIONS if a in set(escalation.annotations)]
    if annotations:
        tags = _add(summary, "reportAnnotations")
        for annotation in annotations:
            _add(tags, annotation, True)
    when, how = incident_time(escalation, items)
    _add(summary, "incidentDateTime", xml_datetime(when))
    _add(summary, "incidentDateTimeDescription", how)

    web = _add(_add(root, "internetDetails"), "webPageIncident")
    for item in items:
        if item.url:
            _add(web, "url", item.url)
    ids = [item.platform_id for item in items if item.platform_id]
    if ids:
        _add(web, "additionalInfo", f"Content ids on {platform}: {', '.join(ids)}.")

    reporting = _add(_add(root, "reporter"), "reportingPerson")
    _add(reporting, "firstName", settings.VIGIL_REPORTER_FIRST_NAME)
    _add(reporting, "lastName", settings.VIGIL_REPORTER_LAST_NAME)
    _add(reporting, "email", settings.VIGIL_REPORTER_EMAIL)

    # The owner of the content, as the platform knows them. The handle last given wins: it is the
    # one the account uses now.
    handles = [item.owner_handle for item in reversed(items) if item.owner_handle]
    captures = IpCapture.objects.filter(content_item__in=items).order_by(
        "captured_at", "ip", "event"
    )
    seen, unique_captures = set(), []
    for capture in captures:
        key = (capture.ip, capture.event, capture.captured_at)
        if key not in seen:
            seen.add(key)
            unique_captures.append(capture)
    if escalation.owner_id or handles or unique_captures:
        reported = _add(root, "personOrUserReported")
        if escalation.owner_id:
            _add(reported, "espIdentifier", escalation.owner_id)
        _add(reported, "espService", platform)
        if handles:
            _add(reported, "screenName", handles[0])
        for capture in unique_captures:
            _add_ip_capture(reported, capture)

    if escalation.incident_summary:
        _add(root, "additionalInfo", escalation.incident_summary)
    return _serialise(root)


def escalating_decision(case_id: int) -> Decision | None:
    """The latest decision that escalated the case (its classification and intent describe the
    file)."""
    return (
        Decision.objects.filter(case_id=case_id, action=Decision.Action.ESCALATE)
        .order_by("-created_at", "-pk")
        .first()
    )


def _nearest_upload(item: ContentItem, uploads: list[IpCapture]) -> IpCapture | None:
    """The owner's upload of this content: the Upload event nearest its posting time (`uploads`
    in captured_at, pk order; the first of equals wins)."""
    if not uploads or item.posted_at is None:
        return uploads[0] if uploads else None
    return min(uploads, key=lambda c: abs(c.captured_at - item.posted_at))


def _upload_capture(item: ContentItem) -> IpCapture | None:
    return _nearest_upload(
        item, list(item.ip_captures.filter(event="Upload").order_by("captured_at", "pk"))
    )


@dataclass(frozen=True)
class FileContext:
    """What a fileDetails needs beyond its file: the escalating decision and the upload capture."""

    decision: Decision | None
    upload: IpCapture | None


def file_details_contexts(files: list[EscalationFile]) -> dict[int, FileContext]:
    """The FileContext of every file (by EscalationFile pk), in two queries whatever their number
    (a packet has hundreds of files; one per file would be two queries each). `files` must have
    media__content_item loaded."""
    decisions: dict[int, Decision] = {}
    for decision in Decision.objects.filter(
        case_id__in={f.case_id for f in files}, action=Decision.Action.ESCALATE
    ).order_by("-created_at", "-pk"):
        decisions.setdefault(decision.case_id, decision)  # the first is the latest
    uploads: dict[int, list[IpCapture]] = {}
    for capture in IpCapture.objects.filter(
        content_item__in={f.media.content_item_id for f in files}, event="Upload"
    ).order_by("captured_at", "pk"):
        uploads.setdefault(capture.content_item_id, []).append(capture)
    return {
        f.pk: FileContext(
            decisions.get(f.case_id),
            _nearest_upload(f.media.content_item, uploads.get(f.media.content_item_id, [])),
        )
        for f in files
    }


def file_details_xml(
    escalation_file: EscalationFile,
    *,
    report_id: int,
    file_id: str,
    context: FileContext | None = None,
) -> bytes:
    """The CyberTipline `fileDetails` for one evidence file. Offline packets pass report_id=0 and
    the file's name in the packet as file_id (see the module docstring). `context` (from
    file_details_contexts) saves its two queries when many files are built at once."""
    media = escalation_file.media
    item = media.content_item
    if context is None:
        context = FileContext(escalating_decision(escalation_file.case_id), _upload_capture(item))
    decision = context.decision
    root = etree.Element("fileDetails")
    _add(root, "reportId", report_id)
    _add(root, "fileId", file_id)
    _add(root, "fileName", PurePosixPath(escalation_file.name).name)
    # The original name is the reported user's only when the platform sent the file itself (a
    # flag). A report's attachment is named by whoever reported it: that name could say who they
    # are, and reporters' identities never go to the reported side, nor into the report.
    if media.original_filename and media.flag_id is not None:
        _add(root, "originalFileName", media.original_filename)
    # When the platform did not say when it was posted, the time Vigil (part of the platform)
    # received the file: it cannot have been uploaded later than that.
    _add(root, "uploadedToEspTimestamp", xml_datetime(item.posted_at or media.created_at))
    if item.url:
        _add(root, "locationOfFile", item.url)
    # From the media-view audit log (computed at assembly), never assumed.
    _add(root, "fileViewedByEsp", escalation_file.viewed_by_esp)
    # Vigil's review screen shows the image with its type, size and dimensions, never its EXIF
    # metadata (camera, capture time, GPS...), so nobody can have viewed the EXIF here. The one
    # EXIF value Vigil reads is the orientation (a display hint, recorded for hashing and shown
    # when unusual), which says nothing about the picture's origin. "true" would tell the
    # authority the platform had already searched the metadata, which it had not. Likewise a
    # video's container metadata (creation time, location, device): Vigil reads only its
    # container, codec, dimensions, duration, frame rate and rotation.
    _add(root, "exifViewedByEsp", False)
    if item.publicly_available is not None:
        _add(root, "publiclyAvailable", item.publicly_available)
    if decision is not None and decision.intent:
        # The reviewer judged the sharing non-malicious (outrage, poor humour): the
        # CyberTipline's "potential meme".
        _add(root, "potentialMeme", decision.intent == Decision.Intent.NON_MALICIOUS)
    if decision is not None and decision.classification:
        _add(root, "industryClassification", decision.classification)
    for hash_type, value in (
        ("MD5", escalation_file.md5 or media.md5),
        ("SHA256", escalation_file.sha256 or media.sha256),
        ("PDQ", media.pdq),
    ):
        if value:
            _add(root, "originalFileHash", value, hashType=hash_type)
    if context.upload is not None:
        _add_ip_capture(root, context.upload)
    if media.is_video:
        # No element of the schema describes a video: its free-text note for the file does.
        _add(root, "additionalInfo", describe_video(media))
    return _serialise(root)
