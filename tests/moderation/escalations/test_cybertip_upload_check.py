"""An evidence file is checked against its SHA-256 while it is uploaded to the CyberTipline: a
video changed in storage since it was received (same size, other bytes) is cut off before its
last bytes, so the authority never receives it whole; the submission fails with the reason,
logged, and goes on once the file is restored."""

import pytest
from django.core.files.storage import default_storage

from accounts.roles import Role
from moderation.escalations import submission
from moderation.escalations.packet import escalation_assemble
from tests.moderation.video_packet_helpers import approved_media, fake_cybertip, image, video

__all__ = ["approved_media", "fake_cybertip"]


def stored(f) -> bytes:
    with default_storage.open(f.media.file.name, "rb") as handle:
        return handle.read()


def run(escalation, user):
    submission.escalation_submit(escalation_id=escalation.pk, user=user)
    outcome = submission.submission_run(escalation_id=escalation.pk, can_retry=False).outcome
    escalation.refresh_from_db()
    return outcome


@pytest.mark.django_db
def test_it_cuts_off_the_upload_of_a_video_changed_in_storage(
    approved_media, fake_cybertip, make_user
):
    escalation = approved_media([[image(), video()]])
    escalation_assemble(escalation_id=escalation.pk)
    escalation.refresh_from_db()
    picture, clip = escalation.files.select_related("media").order_by("name")
    assert clip.media.kind == "video"
    path = default_storage.path(clip.media.file.name)
    original = stored(clip)
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0xFF
    with open(path, "wb") as handle:
        handle.write(changed)
    boss = make_user("sue", Role.SUPERVISOR)

    assert run(escalation, boss) == "failed"
    assert escalation.status == "failed"
    assert escalation.failure_reason == (
        f"The evidence file {clip.name} no longer matches the SHA-256 recorded when it arrived: "
        "its upload was cut off before the end."
    )
    assert escalation.failure_details[0] == f"expected SHA-256 {clip.sha256}"
    attempts = list(escalation.submission_attempts.order_by("number"))
    assert [(a.step, a.outcome, a.file_id) for a in attempts] == [
        ("open", "ok", None),
        ("upload", "ok", picture.pk),
        ("file_details", "ok", picture.pk),
        ("upload", "failed", clip.pk),
    ]
    assert attempts[-1].error == escalation.failure_reason
    # The image went; of the video, nothing the authority would take.
    remote = fake_cybertip.reports[escalation.report_id]
    assert [f["data"] for f in remote.files.values()] == [stored(picture)]
    clip.refresh_from_db()
    assert clip.remote_file_id == ""

    # Restored, it goes up whole on the next run, into the same report.
    with open(path, "wb") as handle:
        handle.write(original)
    assert run(escalation, boss) == "submitted"
    assert escalation.status == "submitted"
    assert fake_cybertip.finished_reports() == [escalation.report_id]
    assert sorted(f["data"] for f in remote.files.values()) == sorted([stored(picture), original])
