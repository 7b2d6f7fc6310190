"""An approved escalation with evidence, ready for the assembly job, and a look inside packets."""

import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage

from accounts.roles import Role
from moderation.cases.services import case_claim_next
from moderation.escalations.models import Escalation
from moderation.escalations.services import (
    escalation_approve,
    escalation_request_approval,
    escalation_update_details,
)
from moderation.review.services import case_decide


@pytest.fixture
def approved(make_user, reviewer, submit_report, png_upload, run_jobs):
    """make(cases=1, images=2, **report) → an escalation in ASSEMBLING whose job has not run."""
    counter = iter(range(1, 10_000))

    def make(cases=1, images=2, **report):
        for _ in range(cases):
            n = next(counter)
            uploads = [
                png_upload(name=f"upload-{n}-{i}.png", colour=(n * 30 % 256, i * 40 % 256, 7))
                for i in range(images)
            ]
            with run_jobs():  # hashing the images
                submit_report(
                    category="harassment",
                    platform_id=f"post-{n}",
                    owner_id="acct-7",
                    images=uploads,
                    **report,
                )
            case = case_claim_next(user=reviewer)
            case_decide(case_id=case.pk, user=reviewer, action="escalate", policy="child safety")
        return approve_draft(
            owner_id="acct-7",
            reviewer=reviewer,
            make_user=make_user,
            summary="Images of a child shared publicly.",
        )

    return make


def approve_draft(*, owner_id: str, reviewer, make_user, summary: str) -> Escalation:
    """The owner's draft escalation written up, sent for approval and approved by a senior
    reviewer; its assembly job not run (the test decides when, and how)."""
    escalation = Escalation.objects.get(owner_id=owner_id, status="draft")
    escalation_update_details(
        escalation_id=escalation.pk,
        user=reviewer,
        incident_type=Escalation.IncidentType.values[0],
        incident_summary=summary,
        annotations=[],
        urgent=False,
        urgent_reason="",
    )
    escalation_request_approval(escalation_id=escalation.pk, user=reviewer)
    approver = make_user(f"senior-{escalation.pk}", Role.SENIOR_REVIEWER)
    escalation_approve(escalation_id=escalation.pk, user=approver)
    escalation.refresh_from_db()
    return escalation


def packet_bytes(escalation: Escalation) -> bytes:
    with default_storage.open(escalation.packet.name, "rb") as f:
        return f.read()


def packet_entries(escalation: Escalation) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(packet_bytes(escalation))) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def packet_json(escalation: Escalation, name: str):
    return json.loads(packet_entries(escalation)[name])
