"""Chain of custody for escalation packets, and preservation of the evidence behind them.

- Downloads: every download of a packet (page or API) is audited with who, from where, and the
  packet's SHA-256, so the custody record says which exact bytes left Vigil and to whom.
- Preservation: evidence of a submitted report is kept until `preserve_until` (at least a year after
  submission, 18 U.S.C. 2258A as amended in 2024) and while a supervisor's legal hold is in force.
  While kept, only roles with PRESERVED_EVIDENCE may look at it (every look is logged as
  `media.viewed`, every refusal as `media.view_refused`).
- Purge: once preservation has expired and no hold is in force, the packet and the evidence files
  are deleted (`purge_expired_evidence`, and a daily job in moderation/periodic/services.py), each deletion
  audited with the hashes of what went.

Withdrawn escalations and evidence never submitted are not preserved under 2258A: they have no
`preserve_until`, the purge never selects them, and their cases' media follow normal retention
(nothing here deletes it). A withdrawn escalation does not keep a file alive either: only cases and
escalations that can still use the file do.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse
from django.utils import timezone

from accounts import roles
from moderation.audit.services import audit_record
from moderation.cases.models import Case
from moderation.decisions.models import Appeal, ReReview
from moderation.escalations.models import Escalation, EscalationFile
from moderation.escalations.services import EscalationStateError
from reports.models import Media, VideoStrip
from reports.thumbnails import strip_storage_name

logger = logging.getLogger(__name__)

S = Escalation.Status
# Packets exist (and may be downloaded) from assembly until the evidence is deleted.
# A failed escalation with a packet: its API submission failed, the packet itself is fine.
DOWNLOADABLE = (S.READY, S.FAILED, S.SUBMITTED, S.ACKNOWLEDGED)


class PacketUnavailable(Exception):
    """No packet to hand out: not assembled yet, evidence deleted, or the stored file is damaged."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


# Downloads --------------------------------------------------------------------------------------


def packet_filename(escalation: Escalation) -> str:
    """A name that says what it is and which bytes: the start of the SHA-256 the receiver checks."""
    return f"vigil-escalation-{escalation.pk}-{escalation.packet_sha256[:12]}.zip"


def packet_open(escalation: Escalation):
    """Open the stored packet for streaming, after checking it is the file that was assembled.

    Only the size is checked here, not the SHA-256: packets run to hundreds of megabytes, and
    re-hashing one on every download would read it twice and hold the response back until the
    whole file had been read. The recorded SHA-256 goes to the downloader (page, header, audit
    event) to verify what they received end to end, which also covers damage in transit that no
    check here could see. A size mismatch (truncated or replaced file) is refused outright.
    """
    if escalation.evidence_deleted_at is not None:
        raise PacketUnavailable(
            "evidence_deleted",
            f"The evidence of escalation {escalation.pk} was deleted on "
            f"{escalation.evidence_deleted_at:%Y-%m-%d} when its preservation ended.",
        )
    if (
        escalation.status not in DOWNLOADABLE
        or not escalation.packet
        or not escalation.packet_sha256
    ):
        raise PacketUnavailable(
            "no_packet",
            f"Escalation {escalation.pk} is {escalation.get_status_display().lower()}: it has no "
            "assembled packet to download.",
        )
    name = escalation.packet.name
    try:
        size = default_storage.size(name)
    except OSError:  # FileNotFoundError included
        size = None
    if size != escalation.packet_size:
        logger.error(
            "Packet of escalation %s is %s bytes in storage, %s recorded",
            escalation.pk,
            size,
            escalation.packet_size,
        )
        raise PacketUnavailable(
            "packet_damaged",
            f"The stored packet of escalation {escalation.pk} is missing or not the file that was "
            "assembled (its size differs). Nothing was sent; tell an administrator.",
        )
    return default_storage.open(name, "rb")


def packet_response(escalation: Escalation, handle) -> FileResponse:
    """Stream the open packet as an attachment (FileResponse reads it in blocks), for the page
    and the API alike."""
    response = FileResponse(
        handle,
        content_type="application/zip",
        as_attachment=True,
        filename=packet_filename(escalation),
    )
    response["Content-Length"] = str(escalation.packet_size)
    response["Cache-Control"] = "private, no-store"
    # For the receiver to verify the bytes they got (the same hash is on the page).
    response["X-Packet-SHA256"] = escalation.packet_sha256
    return response


def escalation_packet_download(
    *, escalation_id: int, user, ip: str | None, via: str = "page", actor_label: str = ""
):
    """Open the packet for `user` and audit the download. Returns (escalation, open file).

    Raises Escalation.DoesNotExist, PermissionDenied (no SUPERVISE; or, once submitted, no
    PRESERVED_EVIDENCE) or PacketUnavailable. The file
    is opened before the audit event is written: a download that cannot start is not recorded as
    one, and one that starts is recorded even if the client stops reading.
    """
    if not user.has_perm(roles.SUPERVISE):
        raise PermissionDenied
    escalation = Escalation.objects.get(pk=escalation_id)
    if escalation.status in Escalation.SUBMITTED_STATES and not user.has_perm(
        roles.PRESERVED_EVIDENCE
    ):
        # Once submitted, the packet is preserved evidence like the files in it.
        raise PermissionDenied
    handle = packet_open(escalation)
    try:
        audit_record(
            verb="escalation.packet_downloaded",
            obj=escalation,
            actor=user,
            actor_label=actor_label,
            ip=ip,
            after={
                "packet_sha256": escalation.packet_sha256,
                "packet_size": escalation.packet_size,
                "status": escalation.status,
                "via": via,
            },
        )
    except BaseException:
        handle.close()
        raise
    return escalation, handle


# Preserved evidence -----------------------------------------------------------------------------


def _hold_in_force(now: datetime) -> Q:
    return Q(legal_hold=True) & (Q(legal_hold_until__isnull=True) | Q(legal_hold_until__gte=now))


def _expired(now: datetime) -> Q:
    """Submitted, preservation over, no hold in force, evidence still here."""
    return (
        Q(status__in=Escalation.SUBMITTED_STATES, evidence_deleted_at__isnull=True)
        & Q(preserve_until__lt=now)
        & ~_hold_in_force(now)
    )


def _released(now: datetime) -> Q:
    """Escalations that no longer need their evidence: deleted already, or expired now."""
    return Q(evidence_deleted_at__isnull=False) | _expired(now)


def preserved_escalations():
    """Escalations whose evidence is being kept for the authority (until it is deleted)."""
    return Escalation.objects.filter(
        status__in=Escalation.SUBMITTED_STATES, evidence_deleted_at__isnull=True
    )


def media_is_preserved(*, case: Case, media: Media) -> bool:
    """Is this file evidence kept for a submitted report (so only named roles may see it)?"""
    # By case, not by bytes: the same file reported again in a new case must stay reviewable by
    # the reviewers who decide that case (the hash banks flag it for them).
    return preserved_escalations().filter(Q(cases=case) | Q(files__media=media)).exists()


def case_is_preserved(case: Case) -> bool:
    return preserved_escalations().filter(cases=case).exists()


def media_check_preserved_access(*, media: Media, case: Case, user, ip: str | None) -> None:
    """Refuse (and log) a look at preserved evidence by someone without the named permission."""
    if user.has_perm(roles.PRESERVED_EVIDENCE) or not media_is_preserved(case=case, media=media):
        return
    audit_record(
        verb="media.view_refused",
        obj=media,
        case=case,
        actor=user,
        ip=ip,
        after={"reason": "preserved evidence", "sha256": media.sha256},
    )
    raise PermissionDenied("Evidence preserved for a report to the authorities")


@dataclass
class Preservation:
    """For people: how long an escalation's evidence is kept, and why."""

    kept_until: datetime | None
    preserve_until: datetime | None
    hold: bool
    hold_until: datetime | None
    deleted_at: datetime | None
    expired: bool
    # A packet is there to download (assembled, evidence not deleted).
    downloadable: bool


def preservation(escalation: Escalation, now: datetime | None = None) -> Preservation:
    now = now or timezone.now()
    hold = escalation.legal_hold and (
        escalation.legal_hold_until is None or escalation.legal_hold_until >= now
    )
    kept_until = escalation.preserve_until
    if hold and escalation.legal_hold_until and kept_until:
        kept_until = max(kept_until, escalation.legal_hold_until)
    return Preservation(
        kept_until=None if hold and escalation.legal_hold_until is None else kept_until,
        preserve_until=escalation.preserve_until,
        hold=hold,
        hold_until=escalation.legal_hold_until if hold else None,
        deleted_at=escalation.evidence_deleted_at,
        expired=bool(
            escalation.preserve_until
            and escalation.preserve_until < now
            and not hold
            and escalation.evidence_deleted_at is None
        ),
        downloadable=escalation.status in DOWNLOADABLE
        and bool(escalation.packet_sha256)
        and escalation.evidence_deleted_at is None,
    )


def _hold_end(until: date) -> datetime:
    """A hold "until 2027-06-30" keeps the evidence through that whole day."""
    return timezone.make_aware(datetime.combine(until, time.max))


HOLD_FIELDS = ("legal_hold", "legal_hold_until", "legal_hold_reason", "legal_hold_by")


def _hold_state(escalation: Escalation) -> dict:
    return {
        "legal_hold": escalation.legal_hold,
        "legal_hold_until": escalation.legal_hold_until.isoformat()
        if escalation.legal_hold_until
        else None,
        "reason": escalation.legal_hold_reason,
    }


def _locked_for_hold(escalation_id: int, user) -> Escalation:
    if not user.has_perm(roles.SUPERVISE):
        raise PermissionDenied
    escalation = Escalation.objects.select_for_update().get(pk=escalation_id)
    if escalation.evidence_deleted_at is not None:
        raise EscalationStateError(
            f"The evidence of escalation {escalation.pk} was deleted on "
            f"{escalation.evidence_deleted_at:%Y-%m-%d}: there is nothing left to hold."
        )
    return escalation


def escalation_set_legal_hold(
    *, escalation_id: int, user, reason: str, until: date | None = None
) -> Escalation:
    """Keep the evidence beyond its preservation deadline: until a date, or (None) until a
    supervisor lifts the hold. Setting it again replaces the date and reason (extends it)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the evidence must be held (e.g. the request)."})
    if until is not None and until <= timezone.localdate():
        raise ValidationError(
            {
                "until": "A hold must end after today; leave it empty to hold it "
                "until someone lifts it."
            }
        )
    with transaction.atomic(durable=True):
        escalation = _locked_for_hold(escalation_id, user)
        before = _hold_state(escalation)
        escalation.legal_hold = True
        escalation.legal_hold_until = _hold_end(until) if until else None
        escalation.legal_hold_reason = reason[:500]
        escalation.legal_hold_by = user
        escalation.updated_at = timezone.now()
        escalation.save(update_fields=[*HOLD_FIELDS, "updated_at"])
        audit_record(
            verb="escalation.legal_hold_set",
            obj=escalation,
            actor=user,
            before=before,
            after=_hold_state(escalation),
        )
    return escalation


def escalation_lift_legal_hold(*, escalation_id: int, user, reason: str) -> Escalation:
    """End a legal hold: the evidence is then kept only until its preservation deadline."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the hold is lifted."})
    with transaction.atomic(durable=True):
        escalation = _locked_for_hold(escalation_id, user)
        if not escalation.legal_hold:
            raise EscalationStateError(f"Escalation {escalation.pk} is not under a legal hold.")
        before = _hold_state(escalation)
        escalation.legal_hold, escalation.legal_hold_until = False, None
        escalation.legal_hold_reason, escalation.legal_hold_by = "", None
        escalation.updated_at = timezone.now()
        escalation.save(update_fields=[*HOLD_FIELDS, "updated_at"])
        audit_record(
            verb="escalation.legal_hold_lifted",
            obj=escalation,
            actor=user,
            before=before,
            after={"legal_hold": False, "reason": reason[:500]},
        )
    return escalation


# Purge ------------------------------------------------------------------------------------------


@dataclass
class PurgeResult:
    escalation_id: int
    packet: dict | None = None
    deleted: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)


def expired_escalation_ids(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Escalation.objects.filter(_expired(now))
        .order_by("preserve_until", "pk")
        .values_list("pk", flat=True)
    )


def _still_needed_by(file_name: str, now: datetime) -> str:
    """Why a stored media file must stay ("" when nothing needs it any more).

    Media files are stored once per SHA-256 and shared by every Media row with the same bytes,
    across content items and cases. The file may go only when every case holding it is decided,
    with no open appeal or re-review, and was reported in an escalation whose preservation is
    over; and no other escalation (other than withdrawn ones) still includes it: one being
    prepared or assembled, or a submitted one still preserved or held.
    """
    rows = list(
        Media.objects.filter(file=file_name).values_list("pk", "report__case_id", "flag__case_id")
    )
    media_ids = [pk for pk, _, _ in rows]
    case_ids = {r or f for _, r, f in rows} - {None}
    if open_case := Case.objects.filter(pk__in=case_ids, status=Case.Status.OPEN).first():
        return f"case {open_case.pk} is still open"
    if appeal := Appeal.objects.filter(case_id__in=case_ids, status=Appeal.Status.OPEN).first():
        return f"case {appeal.case_id} has an open appeal"
    rereview = ReReview.objects.filter(
        case_id__in=case_ids, status__in=[ReReview.Status.OPEN, ReReview.Status.DISAGREED]
    ).first()
    if rereview:
        return f"case {rereview.case_id} is being re-reviewed"
    needing = (
        Escalation.objects.filter(Q(cases__in=case_ids) | Q(files__media__in=media_ids))
        .exclude(status=S.WITHDRAWN)
        .exclude(_released(now))
        .order_by("pk")
        .first()
    )
    if needing:
        return f"escalation {needing.pk} ({needing.get_status_display().lower()}) still needs it"
    # Locked: a hold set meanwhile on one of these waits for this decision, and a hold that got
    # in first takes it out of the released set (the row is re-read once the lock is ours).
    covering = (
        Escalation.objects.filter(_released(now), cases__in=case_ids)
        .select_for_update(of=("self",))
        .values_list("pk", "cases")
    )
    covered = {case_id for _, case_id in covering} & case_ids
    if uncovered := sorted(case_ids - covered):
        return (
            f"case {uncovered[0]} holds the same file outside any expired report (normal retention)"
        )
    return ""


def _delete(name: str) -> bool:
    """Delete a stored file; False when it was already gone (a re-run after a crash)."""
    if not default_storage.exists(name):
        return False
    default_storage.delete(name)
    return True


def escalation_purge_evidence(
    *, escalation_id: int, now: datetime | None = None, dry_run: bool = False
) -> PurgeResult | None:
    """Delete one escalation's evidence if its preservation is over and no hold is in force.

    Idempotent: an escalation already purged (or held meanwhile) is left alone (None); a file
    already missing is recorded as such. With dry_run, says what would go and changes nothing.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        escalation = (
            Escalation.objects.select_for_update().filter(_expired(now), pk=escalation_id).first()
        )
        if escalation is None:
            return None
        result = PurgeResult(escalation_id=escalation.pk)
        files = (
            EscalationFile.objects.filter(escalation=escalation)
            .select_related("media")
            .order_by("name")
        )
        seen = set()
        for f in files:
            name = f.media.file.name
            if name in seen:
                continue
            seen.add(name)
            entry = {"name": f.name, "sha256": f.sha256, "media": f.media_id}
            if reason := _still_needed_by(name, now):
                result.kept.append({**entry, "reason": reason})
            elif dry_run:
                result.deleted.append(entry)
            else:
                (result.deleted if _delete(name) else result.missing).append(entry)
                # A video's stills (reports/thumbnails.py) are its pictures too: they go with it.
                _delete(strip_storage_name(name))
                VideoStrip.objects.filter(media__file=name).update(
                    file="", timestamps=[], stopped="deleted with the evidence"
                )
        if escalation.packet.name:
            result.packet = {"name": escalation.packet.name, "sha256": escalation.packet_sha256}
            if not dry_run:
                result.packet["deleted"] = _delete(escalation.packet.name)
        if dry_run:
            return result
        escalation.evidence_deleted_at = now
        escalation.updated_at = timezone.now()
        escalation.save(update_fields=["evidence_deleted_at", "updated_at"])
        audit_record(
            verb="escalation.evidence_deleted",
            obj=escalation,
            before={
                "preserve_until": escalation.preserve_until.isoformat(),
                "legal_hold": _hold_state(escalation),
            },
            after={
                "packet": result.packet,
                "deleted": result.deleted,
                "already_missing": result.missing,
                "kept": result.kept,
            },
        )
    return result


def evidence_purge_expired(
    *, now: datetime | None = None, dry_run: bool = False
) -> list[PurgeResult]:
    """Purge every escalation whose preservation is over, oldest first, one transaction each."""
    now = now or timezone.now()
    results = []
    for escalation_id in expired_escalation_ids(now):
        result = escalation_purge_evidence(escalation_id=escalation_id, now=now, dry_run=dry_run)
        if result is not None:
            results.append(result)
    return results
