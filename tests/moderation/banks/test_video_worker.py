"""Videos through real rqworkers (PostgreSQL + Redis): received by the API, hashed, matched
against a vPDQ bank imported in python-threatexchange's line format through its frame-index
snapshot, clustered with a re-upload, acted on by the bank's policy; and a worker killed in the
middle of hashing a video leaves it hashed exactly once by the retry."""

import base64
import json
from datetime import timedelta

import pytest

from moderation.audit.models import AuditEvent
from moderation.banks.models import HashBank, Match
from moderation.banks.services import bank_import
from moderation.banks.snapshot import index_snapshot_take
from moderation.enforcement.models import EnforcementAction
from moderation.escalations.models import Escalation
from reports.media import inspect_media
from reports.models import Media, VideoHash
from reports.services import media_requeue_unhashed
from reports.vpdq import frames_from_text, to_signal
from tests.api_helpers import auth, report_payload, token_for
from tests.rqworker import kill_worker_mid_hash, needs_real_worker, run_burst_worker
from tests.testdata import VPDQ

CHAIR_19 = (VPDQ / "videos" / "chair-19-sd-bar.mp4").read_bytes()


def video_bank() -> HashBank:
    """A bank holding the chair video (chair-19, as Meta's reference hashed it
    one frame a second), imported as a hash list, its frame index snapshot taken."""
    bank = HashBank.objects.create(
        name="Known videos",
        slug="known-videos",
        signal_types=["vpdq", "video_md5"],
        policy=HashBank.Policy.ACT_AND_ESCALATE,
    )
    frames = frames_from_text((VPDQ / "reference-0.2.5" / "chair-19-sd-bar.txt").read_text())[::30]
    bank_import(bank=bank, text=f"vpdq {to_signal(frames)}\n")
    index_snapshot_take(signal_type="vpdq")
    return bank


def post_video(client, token, data: bytes, n: int):
    payload = report_payload(
        media=[{"filename": f"clip-{n}.mp4", "data_base64": base64.b64encode(data).decode()}],
        content={
            "id": f"video-{n}",
            "url": f"https://social.example/v/{n}",
            "type": "video",
            "owner_id": f"acct-{n}",
        },
    )
    r = client.post(
        "/api/v1/reports", data=json.dumps(payload), content_type="application/json", **auth(token)
    )
    assert r.status_code == 201, r.content
    return Media.objects.get(report__content_item__platform_id=f"video-{n}")


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_a_video_from_the_api_is_hashed_matched_clustered_and_acted_on_by_a_real_worker(
    client, make_user, private_media
):
    bank = video_bank()
    token = token_for(make_user)
    first = post_video(client, token, CHAIR_19, 1)
    again = post_video(client, token, CHAIR_19, 2)

    worker = run_burst_worker(PRIVATE_MEDIA_ROOT=str(private_media))

    first.refresh_from_db()
    again.refresh_from_db()
    assert first.hashed_at and again.hashed_at, worker.stderr
    assert (first.container, first.codec, first.duration) == (
        "mp4",
        "h264",
        pytest.approx(18.8, abs=0.1),
    )
    frames = frames_from_text(VideoHash.objects.get(media=first).frames)
    assert len(frames) == pytest.approx(first.duration, abs=1)  # one a second
    match = Match.objects.get(media=first)
    assert (match.signal_type, match.entry.bank_id) == ("vpdq", bank.pk)
    assert match.compared_percent >= 80 and match.segments
    assert first.cluster_id is not None and again.cluster_id == first.cluster_id
    assert set(EnforcementAction.objects.values_list("kind", "target")) >= {
        ("remove_content", "video-1"),
        ("suspend_account", "acct-1"),
    }
    assert Escalation.objects.filter(cases=first.report.case).exists()


@needs_real_worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "worker_class", ["config.worker.VigilWorker", "config.worker.VigilForkingWorker"]
)
def test_a_worker_killed_mid_video_leaves_it_to_a_retry_that_hashes_it_once(
    submit_report, private_media, tmp_path, worker_class
):
    video_bank()
    report = submit_report(
        images=[inspect_media(CHAIR_19, filename="a.mp4")], platform_id="v-1", owner_id="acct-1"
    )
    media = report.media.get()
    kill_worker_mid_hash(worker_class, private_media=private_media, flag=tmp_path / "started")

    media.refresh_from_db()
    assert media.hashed_at is None and not VideoHash.objects.exists()
    assert media_requeue_unhashed(older_than=timedelta(0)) == 1
    run_burst_worker(PRIVATE_MEDIA_ROOT=str(private_media))
    media.refresh_from_db()
    assert media.hashed_at is not None and VideoHash.objects.filter(media=media).count() == 1
    assert Match.objects.filter(media=media).count() == 1
    assert AuditEvent.objects.filter(verb="media.hashed", object_id=str(media.pk)).count() == 1
    assert set(EnforcementAction.objects.values_list("kind", "target")) == {
        ("remove_content", "v-1"),
        ("suspend_account", "acct-1"),
    }
