"""Escalations in the states the custody tests need, with a real packet in private storage.

Built directly (the assembly job is tested on its own): an approved, assembled escalation whose
packet zip and evidence files are where the job puts them.
"""

import hashlib
import io
import zipfile
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from moderation.cases.models import Case
from moderation.escalations.models import Escalation, EscalationFile


def packet_bytes(escalation_id: int, media) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("manifest.json", f'{{"escalation": {escalation_id}}}')
        for m in media:
            with m.file.open("rb") as f:
                z.writestr(f"files/{m.sha256}.png", f.read())
    return out.getvalue()


def make_escalation(make_user, reports, *, status=Escalation.Status.READY, owner="u-9"):
    """An assembled escalation of the reports' cases (decided), with its packet stored."""
    requester = User.objects.filter(username="esc-requester").first() or make_user(
        "esc-requester", Role.REVIEWER
    )
    approver = User.objects.filter(username="esc-approver").first() or make_user(
        "esc-approver", Role.SENIOR_REVIEWER
    )
    now = timezone.now()
    escalation = Escalation.objects.create(
        owner_id="",
        opened_reason="test",
        incident_summary="test",
        approval_requested_by=requester,
        approval_requested_at=now,
        approved_by=approver,
        approved_at=now,
        status=Escalation.Status.ASSEMBLING,
    )
    media = []
    for report in reports:
        Case.objects.filter(pk=report.case_id).update(status=Case.Status.DECIDED, decided_at=now)
        escalation.cases.add(report.case_id)
        for m in report.media.all():
            media.append(m)
            EscalationFile.objects.create(
                escalation=escalation,
                media=m,
                case_id=report.case_id,
                name=f"files/{len(media):04d}-{m.sha256}.png",
                sha256=m.sha256,
                size=m.size,
            )
    data = packet_bytes(escalation.pk, media)
    name = default_storage.save(f"escalations/{escalation.pk}/packet.zip", ContentFile(data))
    Escalation.objects.filter(pk=escalation.pk).update(
        status=Escalation.Status.READY,
        packet=name,
        packet_sha256=hashlib.sha256(data).hexdigest(),
        packet_size=len(data),
        assembled_at=now,
    )
    escalation.refresh_from_db()
    if status in Escalation.SUBMITTED_STATES:
        submit(escalation, report_id=1000 + escalation.pk)
        if status == Escalation.Status.ACKNOWLEDGED:
            Escalation.objects.filter(pk=escalation.pk).update(
                status=status, acknowledged_at=timezone.now()
            )
    elif status != Escalation.Status.READY:
        Escalation.objects.filter(pk=escalation.pk).update(status=status)
    escalation.refresh_from_db()
    return escalation


def submit(escalation, *, report_id, at=None):
    """Mark it submitted (as the service does) at a given time."""
    at = at or timezone.now()
    Escalation.objects.filter(pk=escalation.pk).update(
        status=Escalation.Status.SUBMITTED,
        report_id=report_id,
        submitted_via=Escalation.SubmittedVia.MANUAL,
        submitted_at=at,
        preserve_until=at + timedelta(days=365),
    )
    escalation.refresh_from_db()
    return escalation
