"""Realistic escalations for the CyberTipline tests: content with owners, posting times, IP
capture events and images, escalated by a reviewer, with one EscalationFile per image; a ready
one has its packet assembled by the real assembler."""

import hashlib
from datetime import UTC, datetime

from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.roles import Role
from moderation.decisions.models import Decision
from moderation.escalations.models import Escalation, EscalationFile
from reports.content import IpCaptureIn
from reports.models import Report

POSTED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LOGIN = IpCaptureIn(
    ip="203.0.113.5", event="Login", captured_at=datetime(2026, 11, 20, 8, 55, tzinfo=UTC)
)
UPLOAD = IpCaptureIn(
    ip="2001:db8::1", event="Upload", captured_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
)


def escalation_factory(make_user, submit_report, png_upload):
    """make(contents, **fields): an escalation of `contents` (dicts of report_submit overrides),
    each with one image. Use it from a `make_escalation` fixture in the test module."""
    counter = iter(range(1, 10_000))

    def make(contents=None, *, classification="A2", intent="", status="ready", **fields):
        n = next(counter)
        reviewer = make_user(f"esc-reviewer-{n}", Role.REVIEWER)
        approver = make_user(f"esc-approver-{n}", Role.SENIOR_REVIEWER)
        contents = contents or [
            {
                "platform_id": f"post-{n}-1",
                "posted_at": POSTED,
                "publicly_available": True,
                "ip_captures": [LOGIN, UPLOAD],
            }
        ]
        escalation = Escalation.objects.create(
            owner_id=f"user-{n}",
            opened_by=reviewer,
            opened_reason="escalated by a reviewer",
            approval_requested_by=reviewer,
            approved_by=approver,
            approved_at=timezone.now(),
            # A ready one is assembled for real below: submission sends the packet's report.xml.
            status="assembling" if status == "ready" else status,
            **{"incident_summary": "The account posted abuse material.", **fields},
        )
        for i, content in enumerate(contents):
            report = submit_report(
                category="csam",
                involves_child=True,
                source=Report.Source.API,
                reporter_kind=Report.ReporterKind.PLATFORM_USER,
                reporter_account_id="the-reporter-account",
                reporter_email="reporter@example.org",
                reporter_ip="198.51.100.77",
                owner_id=escalation.owner_id,
                owner_handle=f"handle_{n}",
                content_url=f"https://social.example/p/{n}/{i}",
                images=[png_upload(name=f"IMG_{n}_{i}.png", colour=(n * 10 % 255, i * 40, 5))],
                **content,
            )
            case = report.case
            escalation.cases.add(case)
            Decision.objects.create(
                case=case,
                reviewer=reviewer,
                action=Decision.Action.ESCALATE,
                policy="csam",
                classification=classification,
                intent=intent,
            )
            media = report.media.get()
            with default_storage.open(media.file.name, "rb") as stored:
                media.md5 = hashlib.md5(stored.read(), usedforsecurity=False).hexdigest()
            media.pdq = "f" * 64
            media.save(update_fields=["md5", "pdq"])
            EscalationFile.objects.create(
                escalation=escalation,
                media=media,
                case=case,
                name=f"files/{i + 1:04d}-{media.sha256}.png",
                sha256=media.sha256,
                md5=media.md5,
                size=media.size,
                viewed_by_esp=i == 0,
            )
        if status == "ready":
            from moderation.escalations.packet import escalation_assemble

            assert escalation_assemble(escalation_id=escalation.pk).status == "ready"
            escalation.refresh_from_db()
        return escalation

    return make
