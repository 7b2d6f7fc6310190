"""NCMEC CyberTipline XML: the `report` for an escalation and a `fileDetails` per evidence file,
built with lxml and checked against the CyberTipline's public schema.

The schema is vendored (moderation/escalations/schemas/cyber_tipline.xsd, a byte-identical copy of
../shared/schemas/cyber_tipline.xsd, checked by a test) so that production never depends on a
file outside the repository; it is parsed once per process.

Who is who. The report's `reporter` is the platform (the ESP) itself: its contact person from
settings (VIGIL_REPORTER_FIRST_NAME, _LAST_NAME, _EMAIL). `personOrUserReported` is the owner of
the escalated content, with the e-mail address the platform holds for it
(ContentItem.owner_email, Participant.email) and its IP capture events; in a conversation, any
other participant the reports name too. The end user who reported the content to the platform
(ReporterIdentity) appears nowhere in either XML: this module never reads it. A conversation's
participants are named for their part in it (intendedRecipient, victim), never as its reporter.

Incidents. Posts, images and other content make one `webPageIncident` (their URLs); each
conversation is a `chatImIncident` with an excerpt of the thread, and its participants other than
the reported account are `intendedRecipient`s (minors first) and, when minors, `victim`s, each
account once however many conversations it is in (moderation/escalations/cybertip_chat.py). A
conversation without any file is reported all the same (no fileDetails): text-only enticement.
A case about the account itself is no incident: it names the reported person and says in the
report's additionalInfo why the account was reviewed as a whole; its evidence cases are the
incidents (moderation/escalations/cybertip_account.py). Only the content the reported account
owns gives its e-mail addresses, handle and IP captures: an account's evidence may include a
conversation someone else owns, whose owner's facts are not the account's.

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
from datetime import datetime
from functools import cache
from pathlib import Path

from django.conf import settings
from lxml import etree

from moderation.cases.accounts import is_platform_account
from moderation.decisions.models import Decision
from moderation.escalations import cybertip_chat as chat
from moderation.escalations.cybertip_account import account_cases, is_account, owned_items
from moderation.escalations.cybertip_chat import Parties, Party, SentIn, xml_datetime
from moderation.escalations.models import REPORT_ANNOTATIONS, Escalation, EscalationFile
from moderation.escalations.video_evidence import describe as describe_video
from reports.models import ContentItem, Flag, IpCapture, Participant, Report

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
    """When the incident happened, and how we know: the earliest of the posting times the
    platform gave and, in conversations, the earliest reported message (else the earliest
    message); failing all, the first report or flag about it."""
    platform = settings.VIGIL_PLATFORM_NAME
    cutoff = escalation.approved_at
    known: list[tuple[datetime, str]] = []
    for item in items:
        sent = chat.earliest_message(item, cutoff) if chat.is_conversation(item) else None
        if sent is not None:
            which = "reported message" if sent[1] else "message"
            known.append(
                (
                    sent[0],
                    f"When the earliest {which} of the conversation {chat.label(item)} was sent "
                    f"on {platform}.",
                )
            )
        elif item.posted_at:
            known.append(
                (item.posted_at, f"When the earliest reported content was posted to {platform}.")
            )
    if known:
        return min(known, key=lambda k: k[0])
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
    people = chat.split_parties(
        chat.parties(items, owner_id=escalation.owner_id, cutoff=escalation.approved_at),
        owner_id=escalation.owner_id,
    )
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

    _add_internet_details(root, escalation, items, people)

    reporting = _add(_add(root, "reporter"), "reportingPerson")
    _add(reporting, "firstName", settings.VIGIL_REPORTER_FIRST_NAME)
    _add(reporting, "lastName", settings.VIGIL_REPORTER_LAST_NAME)
    _add(reporting, "email", settings.VIGIL_REPORTER_EMAIL)

    _add_reported(root, escalation, items, people)
    for party in people.recipients:
        _add_party(root, "intendedRecipient", "intendedRecipientPerson", party)
    for party in people.victims:
        # The schema requires victimPerson (all its children optional).
        _add_party(root, "victim", "victimPerson", party, person=True)

    # The schema takes one additionalInfo: why an account was reviewed as a whole, then the
    # preparer's words.
    said = [a.words(platform) for a in account_cases(escalation, items, escalation.approved_at)]
    if escalation.incident_summary:
        said.append(escalation.incident_summary)
    if said:
        _add(root, "additionalInfo", "\n\n".join(said))
    return _serialise(root)


def _add_internet_details(
    root: etree._Element, escalation: Escalation, items: list[ContentItem], people: Parties
) -> None:
    """One webPageIncident for everything that is neither a conversation nor an account, one
    chatImIncident per conversation. An account case is no incident: its evidence is."""
    platform = settings.VIGIL_PLATFORM_NAME
    chats = [item for item in items if chat.is_conversation(item)]
    web_items = [item for item in items if not chat.is_conversation(item) and not is_account(item)]
    if web_items or not (chats or any(is_account(item) for item in items)):
        web = _add(_add(root, "internetDetails"), "webPageIncident")
        for item in web_items:
            if item.url:
                _add(web, "url", item.url)
        ids = [item.platform_id for item in web_items if item.platform_id]
        if ids:
            _add(web, "additionalInfo", f"Content ids on {platform}: {', '.join(ids)}.")
    if not chats:
        return
    # The files as the report's fileDetails name them, for the excerpt to point at.
    file_names = {
        sha: chat.report_file_name(name)
        for sha, name in escalation.files.values_list("sha256", "name")
    }
    transcripts = chat.transcript_names(items)
    for item in chats:
        incident = _add(_add(root, "internetDetails"), "chatImIncident")
        # The chat program used: the platform's own messaging. It has no room name to give.
        _add(incident, "chatClient", platform)
        shown = chat.excerpt(item, cutoff=escalation.approved_at, file_names=file_names)
        if shown.text:
            _add(incident, "content", shown.text)
        words = chat.excerpt_words(
            item,
            shown,
            platform=platform,
            transcript=transcripts[item.pk],
            recipients_total=people.recipients_total,
        )
        _add(incident, "additionalInfo", words)


def _add_reported(
    root: etree._Element, escalation: Escalation, items: list[ContentItem], people: Parties
) -> None:
    """The escalation's account (the owner of the content, as the platform knows them), then any
    other participant of its conversations the reports name. Its facts come from the content it
    owns and from its listings as a participant, never from someone else's content."""
    platform = settings.VIGIL_PLATFORM_NAME
    owner_id = escalation.owner_id
    owner = next((p for p in people.reported if owner_id and p.account_id == owner_id), None)
    owned = owned_items(items, owner_id)
    # The handle last given wins: it is the one the account uses now.
    handles = [item.owner_handle for item in reversed(owned) if item.owner_handle]
    if owner is not None and owner.handle:
        handles.append(owner.handle)
    emails = [item.owner_email for item in owned if item.owner_email]
    if owner is not None and owner.email:
        emails.append(owner.email)
    emails = list(dict.fromkeys(emails))
    captures = IpCapture.objects.filter(content_item__in=owned).order_by(
        "captured_at", "ip", "event"
    )
    seen, unique_captures = set(), []
    for capture in captures:
        key = (capture.ip, capture.event, capture.captured_at)
        if key not in seen:
            seen.add(key)
            unique_captures.append(capture)
    if owner_id or handles or unique_captures or emails:
        reported = _add(root, "personOrUserReported")
        if emails or (owner is not None and owner.age is not None):
            person = _add(reported, "personOrUserReportedPerson")
            for email in emails:
                _add(person, "email", email)
            if owner is not None and owner.age is not None:
                _add(person, "age", owner.age)
        if is_platform_account(owner_id):
            _add(reported, "espIdentifier", owner_id)
        _add(reported, "espService", platform)
        if handles:
            _add(reported, "screenName", handles[0])
        if owner is not None and owner.display_name:
            _add(reported, "displayName", owner.display_name)
        for capture in unique_captures:
            _add_ip_capture(reported, capture)
        if owner is not None:
            _add(reported, "additionalInfo", owner.words(platform))
    for party in people.reported:
        if party is not owner:
            _add_party(root, "personOrUserReported", "personOrUserReportedPerson", party)


def _add_party(
    root: etree._Element, tag: str, person_tag: str, party: Party, *, person: bool = False
) -> None:
    """A participant of a conversation as a reported user, intended recipient or victim: their
    e-mail address and age as the platform holds them, their account, and in words how their age
    is known."""
    platform = settings.VIGIL_PLATFORM_NAME
    element = _add(root, tag)
    if person or party.email or party.age is not None:
        details = _add(element, person_tag)
        if party.email:
            _add(details, "email", party.email)
        if party.age is not None:
            _add(details, "age", party.age)
    # A username typed on the public form is no account id of the platform's.
    if is_platform_account(party.account_id):
        _add(element, "espIdentifier", party.account_id)
    _add(element, "espService", platform)
    if party.handle:
        _add(element, "screenName", party.handle)
    if party.display_name:
        _add(element, "displayName", party.display_name)
    _add(element, "additionalInfo", party.words(platform))


def _describing_decision(decisions: list[Decision], sent_in: tuple[SentIn, ...]) -> Decision | None:
    """The escalating decision whose classification and intent describe a file (`decisions`: the
    case's, latest first): the latest about a message that carried it, else the latest about the
    whole content. A decision about another message, or about an account, describes no file."""
    messages = {s.message for s in sent_in}
    for decision in decisions:
        if decision.target == Decision.Target.MESSAGE and decision.target_ref in messages:
            return decision
    return next((d for d in decisions if not d.target), None)


def _nearest_upload(when: datetime | None, uploads: list[IpCapture]) -> IpCapture | None:
    """The owner's upload nearest `when` (`uploads` in captured_at, pk order; the first of
    equals wins)."""
    if not uploads or when is None:
        return uploads[0] if uploads else None
    return min(uploads, key=lambda c: abs(c.captured_at - when))


def _upload_capture(
    item: ContentItem, sent_in: tuple[SentIn, ...], uploads: list[IpCapture]
) -> IpCapture | None:
    """The owner's upload of the file. The item's IP captures are its owner's: in a conversation
    they tell of a file only when the owner sent it as an attachment (the upload nearest that
    message); one a child sent, or found at a link, was not the owner's upload."""
    if not sent_in:
        return _nearest_upload(item.posted_at, uploads)
    by_owner = [s for s in sent_in if not s.via_link and s.sender.account_id == item.owner_id]
    return _nearest_upload(by_owner[0].sent_at, uploads) if by_owner else None


@dataclass(frozen=True)
class FileContext:
    """What a fileDetails needs beyond its file: the decision describing it, the upload capture
    and the messages that carried it."""

    decision: Decision | None
    upload: IpCapture | None
    sent_in: tuple[SentIn, ...] = ()


def file_details_contexts(files: list[EscalationFile]) -> dict[int, FileContext]:
    """The FileContext of every file (by EscalationFile pk), in two queries whatever their number
    (a packet has hundreds of files; one per file would be two queries each), two more when some
    come from conversations. `files` must have media__content_item loaded."""
    decisions: dict[int, list[Decision]] = {}
    for decision in Decision.objects.filter(
        case_id__in={f.case_id for f in files}, action=Decision.Action.ESCALATE
    ).order_by("-created_at", "-pk"):
        decisions.setdefault(decision.case_id, []).append(decision)  # latest first
    uploads: dict[int, list[IpCapture]] = {}
    for capture in IpCapture.objects.filter(
        content_item__in={f.media.content_item_id for f in files}, event="Upload"
    ).order_by("captured_at", "pk"):
        uploads.setdefault(capture.content_item_id, []).append(capture)
    sent = chat.files_sent_in(files)
    contexts = {}
    for f in files:
        sent_in = tuple(sent.get(f.sha256, ()))
        item = f.media.content_item
        contexts[f.pk] = FileContext(
            _describing_decision(decisions.get(f.case_id, []), sent_in),
            _upload_capture(item, sent_in, uploads.get(item.pk, [])),
            sent_in,
        )
    return contexts


# fileAnnotations: only what Vigil has grounds for, never a guess.
# - potentialMeme: the reviewer judged the sharing non-malicious (outrage, poor humour:
#   Decision.intent), the CyberTipline's "mimicry or other seemingly non-malicious intent".
# - possibleSelfProduction: the reviewer classified the file (A1-B2) and a minor participant of
#   the conversation (age stated or estimated under 18) sent it as an attachment: a child's own
#   account sending it makes self-production possible, which is what the tag says (believed, not
#   known).
# Vigil records nothing saying that a file is a drawing or AI-made, depicts physical harm,
# violence, an animal or an infant, was live-streamed or is circulating virally: those tags are
# never sent. The schema takes either fileAnnotations or the older potentialMeme element:
# fileAnnotations when one of its other tags applies (potentialMeme then among them, only ever
# true), otherwise potentialMeme, true or false, as before.
MEME = "potentialMeme"
SELF_PRODUCTION = "possibleSelfProduction"
# In the schema's order (its xs:all takes any order; people read them in this one).
FILE_ANNOTATIONS = (MEME, SELF_PRODUCTION)


def file_annotations(decision: Decision | None, sent_in: tuple[SentIn, ...]) -> list[str]:
    tags = []
    if decision is not None and decision.intent == Decision.Intent.NON_MALICIOUS:
        tags.append(MEME)
    if (
        decision is not None
        and decision.classification
        and any(not s.via_link and s.sender.role == Participant.Role.MINOR for s in sent_in)
    ):
        tags.append(SELF_PRODUCTION)
    return [tag for tag in FILE_ANNOTATIONS if tag in tags]


def transcript_file_details_xml(
    *,
    report_id: int,
    file_id: str,
    name: str,
    sha256: str,
    item: ContentItem | None,
    cutoff: datetime | None,
) -> bytes:
    """The `fileDetails` for a conversation's transcript sent with the report (`name`: its name
    in the packet). Supplemental: it supports the report, it was not reported. Vigil made it, so
    it has no original name, upload time, location or upload capture of the reported user's, and
    nobody viewed it as a reported file: those elements are left out, and its words say what it
    is (the schema has no annotation for a transcript)."""
    platform = settings.VIGIL_PLATFORM_NAME
    root = etree.Element("fileDetails")
    _add(root, "reportId", report_id)
    _add(root, "fileId", file_id)
    _add(root, "fileName", chat.transcript_file_name(name))
    _add(root, "fileRelevance", "Supplemental Reported")
    words = chat.transcript_words(item, name=name, sha256=sha256, platform=platform, cutoff=cutoff)
    _add(root, "additionalInfo", words)
    return _serialise(root)


# The messages named in a file's additionalInfo (a file sent again and again: the rest are in
# the packet's transcript).
SENT_IN_LISTED = 10


def file_details_xml(
    escalation_file: EscalationFile,
    *,
    report_id: int,
    file_id: str,
    context: FileContext | None = None,
) -> bytes:
    """The CyberTipline `fileDetails` for one evidence file. Offline packets pass report_id=0 and
    the file's name in the packet as file_id (see the module docstring). `context` (from
    file_details_contexts) saves its queries when many files are built at once."""
    platform = settings.VIGIL_PLATFORM_NAME
    media = escalation_file.media
    item = media.content_item
    if context is None:
        context = file_details_contexts([escalation_file])[escalation_file.pk]
    decision, sent_in = context.decision, context.sent_in
    attached = [s for s in sent_in if not s.via_link]
    root = etree.Element("fileDetails")
    _add(root, "reportId", report_id)
    _add(root, "fileId", file_id)
    _add(root, "fileName", chat.report_file_name(escalation_file.name))
    # The original name is the reported user's only when the platform sent the file itself (a
    # flag). A report's attachment is named by whoever reported it: that name could say who they
    # are, and reporters' identities never go to the reported side, nor into the report.
    if media.original_filename and media.flag_id is not None:
        _add(root, "originalFileName", media.original_filename)
    # Sent in a conversation: when the first message carrying it was sent. Otherwise when the
    # platform says it was posted, else the time Vigil (part of the platform) received the file:
    # it cannot have been uploaded later than that.
    uploaded = attached[0].sent_at if attached else item.posted_at or media.created_at
    _add(root, "uploadedToEspTimestamp", xml_datetime(uploaded))
    # A file found only at a link a message sent was located there, not in the conversation.
    location = sent_in[0].url if sent_in and not attached else item.url
    if location:
        _add(root, "locationOfFile", location)
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
    # A file only context messages carried (none of them reported, no decision about them, not
    # classified) supports the report rather than being what was reported.
    if (
        sent_in
        and not any(s.reported for s in sent_in)
        and (
            decision is None
            or (decision.target != Decision.Target.MESSAGE and not decision.classification)
        )
    ):
        _add(root, "fileRelevance", "Supplemental Reported")
    tags = file_annotations(decision, sent_in)
    if any(tag != MEME for tag in tags):
        annotations = _add(root, "fileAnnotations")
        for tag in tags:
            _add(annotations, tag, True)
    elif decision is not None and decision.intent:
        # The reviewer judged the sharing non-malicious (outrage, poor humour): the
        # CyberTipline's "potential meme".
        _add(root, MEME, decision.intent == Decision.Intent.NON_MALICIOUS)
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
    # Which message carried it: the schema has no element for it, its free-text notes do.
    for s in sent_in[:SENT_IN_LISTED]:
        _add(root, "additionalInfo", s.words(platform))
    if len(sent_in) > SENT_IN_LISTED:
        more = len(sent_in) - SENT_IN_LISTED
        _add(
            root,
            "additionalInfo",
            f"{more} more message{'s' if more != 1 else ''} of the conversation carried it too.",
        )
    return _serialise(root)
