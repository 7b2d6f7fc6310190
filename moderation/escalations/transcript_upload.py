"""Conversation transcripts sent with a report through the CyberTipline API (issue 19).

The report excerpts each conversation (chatImIncident/content is bounded); the whole thread is
the packet's conversation/<n>.txt. Submission (moderation/escalations/submission.py) uploads each
transcript as a file of the report, read from the approved packet a chunk at a time and checked
against the packet's manifest on the way, then sends its fileDetails
(cybertip.transcript_file_details_xml: supplemental, saying it is the platform's transcript, not
reported content).

A transcript is not evidence media, so it has no EscalationFile row. What the authority accepted
is recorded as audit events on the escalation, naming the report, the transcript, its SHA-256 and
the file id the authority issued: the chain of custody says what was sent, and a resumed
submission reads the same events so as to send nothing twice (a transcript uploaded for the
report is not uploaded again; its details, once accepted, are not sent again). Events about a
report since retracted name another report id and count for nothing.
"""

import contextlib
import zipfile
from dataclasses import dataclass

from django.core.files.storage import default_storage

from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
from moderation.escalations import cybertip_chat as chat
from moderation.escalations.cybertip import escalated_content
from moderation.escalations.models import Escalation
from reports.models import ContentItem

UPLOADED = "escalation.transcript_uploaded"
DETAILS_SENT = "escalation.transcript_details_sent"


@dataclass
class Transcript:
    """A conversation's transcript in the packet, and how far it got with the current report."""

    name: str
    sha256: str
    item: ContentItem | None
    # The authority's id for the uploaded file ("" until it is uploaded for the current report).
    file_id: str = ""
    details_sent: bool = False

    @property
    def file_name(self) -> str:
        return chat.transcript_file_name(self.name)


def transcripts(escalation: Escalation) -> list[Transcript]:
    """The transcripts of the escalation's assembled packet (its manifest's conversation/<n>.txt,
    in order), each with what the authority has accepted of it for the escalation's report."""
    manifest = escalation.manifest or {}
    names = sorted(name for name in manifest if name.startswith("conversation/"))
    if not names:
        return []
    items = {item.pk: item for item in escalated_content(escalation)}
    by_name = {name: items[pk] for pk, name in chat.transcript_names(list(items.values())).items()}
    found = {name: Transcript(name, manifest[name], by_name.get(name)) for name in names}
    if escalation.report_id is None:
        return list(found.values())
    events = AuditEvent.objects.filter(
        object_type=Escalation._meta.label_lower,
        object_id=str(escalation.pk),
        verb__in=(UPLOADED, DETAILS_SENT),
    ).order_by("pk")
    for verb, after in events.values_list("verb", "after"):
        transcript = found.get(after.get("name"))
        if transcript is None or after.get("report_id") != escalation.report_id:
            continue
        if verb == UPLOADED:
            # Uploaded again (its details were refused for the earlier upload): the latest.
            transcript.file_id, transcript.details_sent = after["file_id"], False
        elif after.get("file_id") == transcript.file_id:
            transcript.details_sent = True
    return list(found.values())


@contextlib.contextmanager
def packet_entry(escalation: Escalation, name: str):
    """(stream, size) of one entry of the escalation's packet, read as it is sent. OSError,
    KeyError or zipfile.BadZipFile when the packet or the entry cannot be read."""
    with (
        default_storage.open(escalation.packet.name, "rb") as handle,
        zipfile.ZipFile(handle) as packet,
        packet.open(name) as stream,
    ):
        yield stream, packet.getinfo(name).file_size


def record_uploaded(
    escalation: Escalation, transcript: Transcript, file_id: str, *, actor_label: str
) -> None:
    transcript.file_id, transcript.details_sent = file_id, False
    audit_record(
        verb="escalation.transcript_uploaded",  # UPLOADED (a literal: the audit names test)
        obj=escalation,
        actor_label=actor_label,
        after={
            "report_id": escalation.report_id,
            "name": transcript.name,
            "file_name": transcript.file_name,
            "sha256": transcript.sha256,
            "file_id": file_id,
        },
    )


def record_details_sent(
    escalation: Escalation, transcript: Transcript, *, actor_label: str
) -> None:
    transcript.details_sent = True
    audit_record(
        verb="escalation.transcript_details_sent",  # DETAILS_SENT
        obj=escalation,
        actor_label=actor_label,
        after={
            "report_id": escalation.report_id,
            "name": transcript.name,
            "file_id": transcript.file_id,
        },
    )
