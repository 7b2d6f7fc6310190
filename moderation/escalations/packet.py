"""Assembling an escalation's packet (the `assemble_packet` job, moderation/escalations/jobs.py).

The packet is one zip in private storage (`packets/escalation-<id>.zip`, never a public URL):
`report.xml` (the CyberTipline report), `fileDetails/<n>.xml` per evidence file, `vpdq/<n>.txt` per
video (its vPDQ: moderation/escalations/video_evidence.py), the evidence (images and videos) under
`files/`, `conversation/<n>.txt` per conversation (its whole thread, which the report only
excerpts: moderation/escalations/cybertip_chat.py), `summary.json` for people and `manifest.json`
with the SHA-256 and size of every other entry. A conversation reported without any file
(text-only enticement) makes a packet without files or fileDetails. The packet's own SHA-256 is
recorded on the escalation for chain of custody. Evidence is copied a chunk at a time and a
transcript written a batch of messages at a time (moderation/escalations/packet_zip.py): memory
stays bounded however large a video or long a conversation.

Idempotent: only an escalation in ASSEMBLING is assembled; the evidence is snapshotted once (as
EscalationFile rows, in one transaction) and the zip is deterministic (moderation/escalations/packet_zip.py),
so running again — twice, or after a worker died halfway — gives the same packet, byte for byte.
The zip is written to a temporary file beside its final place and moved there only when whole;
the escalation becomes READY only after that. A missing or altered evidence file, or a report
that does not validate against the CyberTipline schema, fails the escalation with the reason.

The temporary file is moved into place with os.replace, so storage must have local paths
(FileSystemStorage, as configured: private media on a local or network file system).

Progress is written as it goes, each step its own short committed UPDATE (no row lock is held
during assembly), so the page and the API that poll it see it live.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from accounts import roles
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
from moderation.escalations import cybertip
from moderation.escalations import cybertip_chat as chat
from moderation.escalations.jobs import assemble_packet
from moderation.escalations.models import Escalation, EscalationFile
from moderation.escalations.packet_summary import summary
from moderation.escalations.packet_zip import EvidenceMismatch, PacketWriter
from moderation.escalations.services import EscalationStateError, job_queue
from moderation.escalations.video_evidence import EXTENSIONS as VIDEO_EXTENSIONS
from moderation.escalations.video_evidence import video_hashes, vpdq_name
from moderation.outbox.services import enqueue
from reports.models import Media

logger = logging.getLogger(__name__)

S = Escalation.Status
ACTOR = "packet assembly"
PACKET_DIR = "packets"
INVALID_REASON = "The packet does not validate against the CyberTipline schema"
# An escalation in ASSEMBLING whose progress has not moved for this long has lost its job (Redis
# restarted, or its worker died): the sweep queues it again. Assembly writes progress per file.
LOST_AFTER = timedelta(minutes=10)
PROGRESS_EVERY_SECONDS = 0.5
# Namespace of the PostgreSQL advisory locks that keep two workers off one escalation.
LOCK_NAMESPACE = 6006
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    **VIDEO_EXTENSIONS,
}


class AssemblyFailed(Exception):
    def __init__(self, reason: str, details: list[str] | None = None):
        super().__init__(reason)
        self.reason, self.details = reason[:500], details or []


class EvidenceNotHashed(Exception):
    """Some evidence is still waiting for its hashing job: transient, the job is retried."""


def packet_name(escalation_id: int) -> str:
    return f"{PACKET_DIR}/escalation-{escalation_id}.zip"


@dataclass
class Result:
    escalation_id: int
    status: str
    packet_sha256: str = ""
    manifest: dict = field(default_factory=dict)


def escalation_assemble(*, escalation_id: int) -> Result | None:
    """Assemble the packet of an escalation in ASSEMBLING; anything else is left alone (a job run
    twice, or one that lost the race). Returns None when it did nothing."""
    with _assembly_lock(escalation_id) as held:
        if not held:
            # Another worker is assembling it right now; its outcome is the outcome.
            return None
        escalation = Escalation.objects.filter(pk=escalation_id, status=S.ASSEMBLING).first()
        if escalation is None:
            return None
        _remove_partial_packets(escalation_id)
        try:
            files = _snapshot(escalation)
            outcome = _write_packet(escalation, files)
        except AssemblyFailed as failed:
            return _fail(escalation_id, failed)
        return _finish(escalation_id, outcome)


@contextlib.contextmanager
def _assembly_lock(escalation_id: int):
    """One assembler per escalation at a time, held without a row lock (the page and the API must
    still read and the progress writes must commit while it runs).

    PostgreSQL: a session-level advisory lock. It is held by the worker's connection, so it goes
    away with the worker — a worker killed mid-assembly never leaves the escalation locked.
    (Needs a session-pooled connection: not PgBouncer in transaction mode.)
    SQLite (the embedded mode, one machine): an exclusive flock on a lock file beside the packet,
    which the kernel likewise releases when the process dies.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, escalation_id])
            held = cursor.fetchone()[0]
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, escalation_id]
                    )
        return
    path = Path(default_storage.path(f"{PACKET_DIR}/.escalation-{escalation_id}.lock"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _progress(escalation_id: int, done: int, total: int, step: str) -> None:
    """One short committed write (autocommit outside a transaction): visible to pollers at once.
    Also marks the assembly alive for the stale sweep (updated_at)."""
    Escalation.objects.filter(pk=escalation_id, status=S.ASSEMBLING).update(
        progress_done=done,
        progress_total=total,
        progress_step=step[:100],
        updated_at=timezone.now(),
    )


def _extension(media: Media) -> str:
    if media.mime in EXTENSIONS:
        return EXTENSIONS[media.mime]
    suffix = Path(media.original_filename).suffix.lower().lstrip(".")
    return suffix if suffix.isalnum() and len(suffix) <= 5 else "bin"


def _snapshot(escalation: Escalation) -> list[EscalationFile]:
    """The evidence, fixed once: every image and video of the escalation's cases that Vigil had
    when it was approved (cases in id order, each case's media in id order; one file per distinct
    SHA-256), once each has been hashed (its MD5, and a video's vPDQ, come from the hashing job:
    a long video may still be hashing when the escalation is approved). A retry reuses the rows
    of the first run, so the packet cannot change under it."""
    existing = list(escalation.files.select_related("media__content_item").order_by("name"))
    if existing:
        return existing
    media = _media_of(escalation)
    if any(not m.sha256 or m.hashed_at is None for m, _ in media):
        _progress(escalation.pk, 0, 0, "Waiting for the evidence to be hashed")
        raise EvidenceNotHashed(f"escalation {escalation.pk} has evidence not hashed yet")
    by_sha: dict[str, list[tuple[Media, int]]] = {}
    kinds = {str(m.pk): m.kind for m, _ in media}
    for m, case_id in media:
        by_sha.setdefault(m.sha256, []).append((m, case_id))
    # An image revealed was viewed. A video was viewed only when a reviewer played all of it
    # (media.watched, moderation/review/reveals.py): its stills or a part played are not the
    # file, and the CyberTipline must not be told the platform saw what it did not.
    viewed = {
        object_id
        for verb, object_id in AuditEvent.objects.filter(
            verb__in=["media.viewed", "media.watched"],
            object_type=Media._meta.label_lower,
            object_id__in=[str(m.pk) for m, _ in media],
        ).values_list("verb", "object_id")
        if verb == ("media.watched" if kinds[object_id] == Media.Kind.VIDEO else "media.viewed")
    }
    rows = []
    for n, (sha, group) in enumerate(by_sha.items(), start=1):
        first, case_id = group[0]
        rows.append(
            EscalationFile(
                escalation=escalation,
                media=first,
                case_id=case_id,
                name=f"files/{n:04d}-{sha[:16]}.{_extension(first)}",
                sha256=sha,
                md5=first.md5,
                size=first.size,
                # The same bytes seen through any of its copies were seen by the platform.
                viewed_by_esp=any(str(m.pk) in viewed for m, _ in group),
            )
        )
    with transaction.atomic():
        # Two runs can race only if the lock failed us; the unique constraints then keep one set.
        if not escalation.files.exists():
            EscalationFile.objects.bulk_create(rows)
    return list(escalation.files.select_related("media__content_item").order_by("name"))


def _media_of(escalation: Escalation) -> list[tuple[Media, int]]:
    """(media, case id) for the escalation's cases, in case order then media order."""
    out, seen = [], set()
    cases = escalation.cases.order_by("pk").values_list("pk", "content_item_id")
    by_item: dict[int, list[Media]] = {}
    for m in Media.objects.filter(
        content_item__in=[item for _, item in cases], created_at__lte=escalation.approved_at
    ).order_by("pk"):
        by_item.setdefault(m.content_item_id, []).append(m)
    for case_id, item_id in cases:
        for m in by_item.get(item_id, []):
            if m.pk not in seen:
                seen.add(m.pk)
                out.append((m, case_id))
    return out


def packet_report_xml(escalation: Escalation) -> bytes:
    """The report.xml of the assembled packet, checked against its manifest: what was approved
    and assembled is what goes to the authority, byte for byte."""

    try:
        with escalation.packet.open("rb") as handle, zipfile.ZipFile(handle) as packet:
            xml = packet.read("report.xml")
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise AssemblyFailed(f"The packet's report.xml cannot be read: {e}") from None
    expected = (escalation.manifest or {}).get("report.xml")
    found = hashlib.sha256(xml).hexdigest()
    if expected != found:
        raise AssemblyFailed(
            f"The packet's report.xml has SHA-256 {found}, its manifest says {expected}: the "
            "packet changed since it was assembled."
        )
    return xml


def _documents(escalation: Escalation, files: list[EscalationFile]) -> list[tuple[str, bytes]]:
    """report.xml and each fileDetails XML, validated against the CyberTipline schema; then each
    video's vPDQ (not in the schema: Vigil's own part of the packet)."""

    documents = [("report.xml", cybertip.report_xml(escalation))]
    contexts = cybertip.file_details_contexts(files)
    for f in files:
        stem = f.name.removeprefix("files/").split("-", 1)[0]
        # Offline packet: no report id yet (0); each file is known by its name in the packet.
        xml = cybertip.file_details_xml(f, report_id=0, file_id=f.name, context=contexts[f.pk])
        documents.append((f"fileDetails/{stem}.xml", xml))
    errors = [f"{name}: {error}" for name, xml in documents for error in cybertip.validate(xml)]
    if errors:
        raise AssemblyFailed(INVALID_REASON, errors)
    hashes = video_hashes(f.media_id for f in files if f.media.is_video)
    for f in files:
        if f.media_id in hashes:
            documents.append((vpdq_name(f.name), hashes[f.media_id].frames.encode()))
    return documents


@dataclass
class _Written:
    sha256: str
    size: int
    manifest: dict


def _transcripts(escalation: Escalation, files: list[EscalationFile]):
    """(name in the packet, pieces of text) for each conversation's transcript, made as it is
    written (cybertip_chat.transcript reads a batch of messages at a time)."""
    items = cybertip.escalated_content(escalation)
    names = chat.transcript_names(items)
    # Each item's first case (in descending order, the first one written last wins).
    cases = dict(escalation.cases.order_by("-pk").values_list("content_item_id", "pk"))
    in_packet = {f.sha256: f.name for f in files}
    platform = settings.VIGIL_PLATFORM_NAME
    for item in items:
        if item.pk in names:
            text = chat.transcript(
                item,
                cutoff=escalation.approved_at,
                file_names=in_packet,
                platform=platform,
                case_id=cases[item.pk],
            )
            yield names[item.pk], (piece.encode() for piece in text)


def _write_packet(escalation: Escalation, files: list[EscalationFile]) -> _Written:
    conversations = len(chat.transcript_names(cybertip.escalated_content(escalation)))
    total = len(files) + conversations + 2
    _progress(escalation.pk, 0, total, "Writing and validating the report")
    documents = _documents(escalation, files)
    final = default_storage.path(packet_name(escalation.pk))
    Path(final).parent.mkdir(parents=True, exist_ok=True)
    # Beside the final place (same file system: the move is atomic); unique per attempt.
    partial = f"{Path(final).parent}/.escalation-{escalation.pk}-{uuid.uuid4().hex}.part"
    try:
        with open(partial, "xb") as out:
            with PacketWriter(out, when=escalation.approved_at.astimezone(UTC)) as packet:
                for name, xml in documents:
                    packet.add_bytes(name, xml)
                _progress(escalation.pk, 1, total, "Copying the evidence")
                written_at = time.monotonic()
                for n, f in enumerate(files, start=1):
                    _copy_evidence(packet, f)
                    # At most a few writes a second: pollers see it move, the database is spared
                    # a commit per small file.
                    if time.monotonic() - written_at >= PROGRESS_EVERY_SECONDS:
                        _progress(escalation.pk, 1 + n, total, f"Copied file {n} of {len(files)}")
                        written_at = time.monotonic()
                for n, (name, pieces) in enumerate(_transcripts(escalation, files), start=1):
                    _progress(
                        escalation.pk,
                        1 + len(files) + n - 1,
                        total,
                        f"Writing conversation {n} of {conversations}",
                    )
                    packet.add_spooled(name, pieces)
                packet.add_json("summary.json", summary(escalation, files))
                listed = [
                    {"name": name, "sha256": sha, "size": size}
                    for name, (sha, size) in packet.entries.items()
                ]
                packet.add_json(
                    "manifest.json",
                    {"escalation": escalation.pk, "algorithm": "sha256", "files": listed},
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)
    except EvidenceMismatch as e:
        # Checked as the hashes come in: raised by a later file's copy, or at the latest before
        # the manifest is written.
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise _corrupt(files, e) from None
    except BaseException:
        # Never leave half a packet behind (a worker killed outright leaves it to the next run).
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise
    manifest = {name: sha for name, (sha, _) in packet.entries.items()}
    _progress(escalation.pk, total, total, "Packet written")
    return _Written(packet.sha256, packet.size, manifest)


def _where(f: EscalationFile) -> str:
    return f"{f.name} (media {f.media_id} of case {f.case_id})"


def _copy_evidence(packet: PacketWriter, f: EscalationFile) -> None:
    try:
        source = default_storage.open(f.media.file.name, "rb")
    except FileNotFoundError:
        # An earlier file found corrupt meanwhile is the first problem: reported first.
        packet.check_evidence()
        raise AssemblyFailed(
            f"Evidence file {_where(f)} is missing from storage.",
            [f"missing: {f.media.file.name}"],
        ) from None
    with source:
        packet.add_evidence(f.name, source, size=f.size, sha256=f.sha256)


def _corrupt(files: list[EscalationFile], e: EvidenceMismatch) -> AssemblyFailed:
    f = next((f for f in files if f.name == e.name), None)
    if f is None:
        # A spooled entry (a transcript) read back differently from its temporary file.
        return AssemblyFailed(
            f"{e.name} changed on its way into the packet: its temporary copy could not be read "
            "back intact.",
            [f"expected SHA-256 {e.expected}", f"found SHA-256 {e.found} ({e.size} bytes)"],
        )
    return AssemblyFailed(
        f"Evidence file {_where(f)} is corrupt: its bytes no longer match the SHA-256 "
        "recorded when it arrived.",
        [f"expected SHA-256 {e.expected}", f"found SHA-256 {e.found} ({e.size} bytes)"],
    )


def _remove_partial_packets(escalation_id: int) -> None:
    """Half-written packets of workers that died (called holding the assembly lock)."""
    folder = Path(default_storage.path(PACKET_DIR))
    for leftover in folder.glob(f".escalation-{escalation_id}-*.part"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _finish(escalation_id: int, written: _Written) -> Result | None:
    with transaction.atomic():
        escalation = Escalation.objects.select_for_update().get(pk=escalation_id)
        if escalation.status != S.ASSEMBLING:
            return None
        escalation.status = S.READY
        escalation.packet.name = packet_name(escalation_id)
        escalation.packet_sha256, escalation.packet_size = written.sha256, written.size
        escalation.manifest = written.manifest
        escalation.assembled_at = escalation.updated_at = timezone.now()
        escalation.failure_reason, escalation.failure_details = "", []
        escalation.save()
        audit_record(
            verb="escalation.assembled",
            obj=escalation,
            actor_label=ACTOR,
            before={"status": S.ASSEMBLING},
            after={
                "status": S.READY,
                "packet_sha256": written.sha256,
                "packet_size": written.size,
                "files": len(written.manifest),
            },
        )
    return Result(escalation_id, S.READY, written.sha256, written.manifest)


def _fail(escalation_id: int, failed: AssemblyFailed) -> Result | None:
    with transaction.atomic():
        escalation = Escalation.objects.select_for_update().get(pk=escalation_id)
        if escalation.status != S.ASSEMBLING:
            return None
        escalation.status = S.FAILED
        escalation.failure_reason, escalation.failure_details = failed.reason, failed.details
        escalation.progress_step = "Assembly failed"
        escalation.updated_at = timezone.now()
        escalation.save(
            update_fields=[
                "status",
                "failure_reason",
                "failure_details",
                "progress_step",
                "updated_at",
            ]
        )
        audit_record(
            verb="escalation.assembly_failed",
            obj=escalation,
            actor_label=ACTOR,
            before={"status": S.ASSEMBLING},
            after={"status": S.FAILED, "reason": failed.reason, "details": failed.details[:50]},
        )
    logger.warning("escalation %s failed assembly: %s", escalation_id, failed.reason)
    return Result(escalation_id, S.FAILED)


def escalation_retry_assembly(*, escalation_id: int, user, ip: str | None = None) -> Escalation:
    """A supervisor tries the assembly again (the missing file was restored, the report fixed)."""
    with transaction.atomic(durable=True):
        escalation = Escalation.objects.select_for_update().get(pk=escalation_id)
        if not escalation.failed_in_assembly:
            raise EscalationStateError(
                f"Escalation {escalation.pk} is {escalation.get_status_display().lower()}: only "
                "an escalation whose packet could not be assembled can be assembled again."
            )
        if not user.has_perm(roles.SUPERVISE):
            raise ValidationError("Only a supervisor can retry an assembly.")
        before = {"status": S.FAILED, "reason": escalation.failure_reason}
        escalation.status = S.ASSEMBLING
        escalation.failure_reason, escalation.failure_details = "", []
        escalation.progress_done = escalation.progress_total = 0
        escalation.progress_step = "Queued for assembly"
        escalation.updated_at = timezone.now()
        escalation.save(
            update_fields=[
                "status",
                "failure_reason",
                "failure_details",
                "progress_done",
                "progress_total",
                "progress_step",
                "updated_at",
            ]
        )
        audit_record(
            verb="escalation.assembly_retried",
            obj=escalation,
            actor=user,
            before=before,
            after={"status": S.ASSEMBLING},
            ip=ip,
        )
        _queue(escalation)
    return escalation


def _queue(escalation: Escalation) -> None:
    enqueue(assemble_packet, escalation.pk, queue=job_queue(escalation))


def escalations_requeue_stale(*, older_than: timedelta = LOST_AFTER, limit: int = 100) -> int:
    """Queue again the assembly of escalations left in ASSEMBLING whose job was lost (Redis
    restarted, a worker killed). Run by the relay loop; in the embedded mode (no relay), by
    periodic.escalations_requeue_if_due. A job queued twice does no harm: the
    assembly lock and the status check make the second one a no-op."""
    cutoff = timezone.now() - older_than
    stale = list(
        Escalation.objects.filter(status=S.ASSEMBLING, updated_at__lte=cutoff)
        .order_by("-urgent", "updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in stale:
        with transaction.atomic(durable=True):
            # Not stale again until the new job has had its time: one re-queue per lost job.
            moved = Escalation.objects.filter(
                pk=pk, status=S.ASSEMBLING, updated_at__lte=cutoff
            ).update(updated_at=timezone.now(), progress_step="Queued again for assembly")
            if moved:
                _queue(Escalation.objects.get(pk=pk))
    if stale:
        logger.warning("queued assembly again for %d stalled escalation(s)", len(stale))
    return len(stale)
