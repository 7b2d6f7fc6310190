"""A large video (50 MB: three seconds of uncompressed 720p, made at test time) goes into the
packet and up to the CyberTipline a chunk at a time: the memory Python allocates meanwhile
(tracemalloc's peak) stays a small fraction of the file, and the bytes arrive whole and checked.

The upload is measured against the fake CyberTipline run in a process of its own: the fake holds
what it receives in memory, which must not count as ours."""

import contextlib
import hashlib
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from accounts.roles import Role
from moderation.escalations import submission
from moderation.escalations.packet import escalation_assemble
from moderation.escalations.packet_zip import CHUNK_BYTES, RING
from reports.models import Media
from tests.moderation import cybertip_server
from tests.moderation.video_packet_helpers import approved_media, video

__all__ = ["approved_media"]

ROOT = Path(__file__).resolve().parents[3]
LARGE = 45 * 1024 * 1024


@pytest.fixture
def large_video():
    """Uncompressed 1280 x 720 frames, 12 a second: about 1.3 MB a frame, 50 MB in all."""
    return video("large.avi", "avi", "rawvideo", width=1280, height=720, frames=36, fps=12)


def peak_while(run) -> tuple[object, int]:
    """run()'s result and the peak of the memory Python allocated while it ran, in bytes."""
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@contextlib.contextmanager
def cybertipline_in_its_own_process():
    """The fake CyberTipline's URL, served by a child process until the block ends."""
    code = (
        "import sys\n"
        "from tests.moderation import cybertip_server as c\n"
        "server = c.FakeCyberTipline()\n"
        "c.start(server)\n"
        "print(server.url, flush=True)\n"
        "sys.stdin.read()  # until the test closes it\n"
    )
    child = subprocess.Popen(  # noqa: S603 (our own interpreter, our own code)
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield child.stdout.readline().strip()
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()


def sha256_of_entry(packet_path: str, name: str) -> str:
    digest = hashlib.sha256()
    with zipfile.ZipFile(packet_path) as z, z.open(name) as entry:
        while chunk := entry.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.django_db
class TestLargeVideo:
    def test_it_copies_a_large_video_into_the_packet_with_bounded_memory(
        self, approved_media, large_video
    ):
        escalation = approved_media([[large_video]])
        media = Media.objects.get(content_item__cases__escalations=escalation)
        assert media.kind == "video" and media.size > LARGE and media.md5
        result, peak = peak_while(lambda: escalation_assemble(escalation_id=escalation.pk))
        assert result.status == "ready"
        # The writer's ring of chunk buffers (8 MB), and little else: never the file.
        assert peak < RING * CHUNK_BYTES + 4 * 1024 * 1024, peak
        assert peak < media.size / 4
        escalation.refresh_from_db()
        [f] = escalation.files.all()
        assert f.name.endswith(".avi")
        path = default_storage.path(escalation.packet.name)
        assert sha256_of_entry(path, f.name) == media.sha256
        assert escalation.manifest[f.name] == media.sha256

    def test_it_uploads_a_large_video_to_the_cybertipline_with_bounded_memory(
        self, approved_media, large_video, make_user, settings
    ):
        escalation = approved_media([[large_video]])
        escalation_assemble(escalation_id=escalation.pk)
        media = Media.objects.get(content_item__cases__escalations=escalation)
        with cybertipline_in_its_own_process() as url:
            settings.CYBERTIP_API_URL = url
            settings.CYBERTIP_USERNAME = cybertip_server.USERNAME
            settings.CYBERTIP_PASSWORD = cybertip_server.PASSWORD
            settings.CYBERTIP_TIMEOUT_SECONDS = 60
            submission.escalation_submit(
                escalation_id=escalation.pk, user=make_user("sue", Role.SUPERVISOR)
            )
            result, peak = peak_while(
                lambda: submission.submission_run(escalation_id=escalation.pk, can_retry=False)
            )
        escalation.refresh_from_db()
        assert result.outcome == "submitted", escalation.failure_reason
        assert escalation.status == "submitted" and escalation.submitted_via == "api"
        # Sent in 64 KB chunks, hashed on the way: a few MB at most, never the 50 MB file.
        assert peak < 4 * 1024 * 1024, peak
        assert media.size > LARGE
        # The authority answered with the MD5 of what it received, checked against ours (a
        # mismatch fails the submission): the whole file arrived.
        [f] = escalation.files.all()
        assert f.remote_file_id and f.details_sent_at is not None
        upload = escalation.submission_attempts.get(step="upload")
        assert upload.outcome == "ok"
