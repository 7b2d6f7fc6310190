"""Links in reports, flags and messages, fetched by the worker (reports/links.py): an image or a
video behind one is stored, hashed and matched against the banks like an upload; a link that leads
to a private address, never ends, serves a decompression bomb or a web page is refused with the
reason and nothing stored; a server down is tried again and then given up on; a job run twice, or
again after a worker died, stores one media. The network beyond this machine is a local server
(on lib/safe_fetch.py's test-only allow-list) and, for names, a resolver answering what a test
says."""

import hashlib
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.banks.models import HashBank, Match
from moderation.banks.services import bank_import
from moderation.cases.models import Case
from moderation.outbox.services import enqueue
from reports.hashing import hash_bytes
from reports.jobs import fetch_link
from reports.links import (
    link_claim,
    link_download,
    link_fetch,
    link_max_attempts,
    link_store,
    links_requeue_pending,
)
from reports.media import inspect_media, store_media
from reports.models import ContentItem, Link, Media, Message, Participant, VideoHash
from reports.services import flag_submit
from tests.conftest import png_bytes
from tests.intake import intake_fields
from tests.local_server import serve_in_thread
from tests.rqworker import ROOT, needs_real_worker, worker_env
from tests.testdata import PDQ, VPDQ

# Row locks, commits and the jobs they release, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

BRIDGE = (PDQ / "dih/bridge-1-original.jpg").read_bytes()
DOORKNOB = (VPDQ / "videos" / "doorknob-hd-no-bar.mp4").read_bytes()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header declares `width` x `height` pixels: a
    decompression bomb as far as anything that trusts the header is concerned."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


FILES = {
    "/photos/bridge.jpg": ("image/jpeg", BRIDGE),
    "/clips/doorknob.mp4": ("video/mp4", DOORKNOB),
    "/photo.png": ("image/png", png_bytes()),
    "/page.html": ("text/html", b"<html><body>Not a picture</body></html>"),
    "/bomb.png": ("image/png", png_declaring(100_000, 100_000)),
    # Between Pillow's limit and twice it, where Pillow itself only warns.
    "/bomb-warning.png": ("image/png", png_declaring(8_000, 8_000)),
    "/truncated.png": ("image/png", png_bytes(size=(640, 480))[:300]),
    "/text-as-image.png": ("image/png", b"just some words, served as a picture"),
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", content_type="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's name)
        path, _, query = self.path.partition("?")
        self.server.hits[path] += 1
        if self.server.unavailable[path] > 0:
            self.server.unavailable[path] -= 1
            return self._send(503, b"busy, come back later")
        if path in FILES:
            content_type, body = FILES[path]
            return self._send(200, body, content_type)
        if path == "/redirect":
            return self._send(302, headers=[("Location", query)])
        if path == "/gzip.png":
            return self._send(
                200, zlib.compress(png_bytes()), "image/png", [("Content-Encoding", "gzip")]
            )
        if path == "/endless.png":
            return self._stream("image/png", b"\x89PNG" + b"\x00" * 65532, pause=0)
        if path == "/dribble.mp4":
            return self._stream("video/mp4", b"\x00", pause=0.05)
        return self._send(404)

    def _stream(self, content_type, piece, *, pause):
        """An answer without an announced length that never ends (until the reader hangs up,
        or a minute has passed: a test server must stop some day)."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.end_headers()
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                self.wfile.write(piece)
                self.wfile.flush()
                if pause:
                    time.sleep(pause)
        except OSError:
            pass  # the fetch hung up on us, as it should


@pytest.fixture
def site(settings):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.hits = Counter()
    httpd.unavailable = Counter()
    serve_in_thread(httpd)
    # The test-only allow-list: this one local server, by the name the tests use for it.
    settings.SAFE_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def report(submit_report):
    return submit_report(category="grooming", involves_child=True)


def new_link(owner, url: str, *, queue: bool = True, **fields) -> Link:
    """A link recorded on a report (or a flag), its fetching queued with it as intake does."""
    kind = "flag" if owner.__class__.__name__ == "Flag" else "report"
    with transaction.atomic():
        link = Link.objects.create(
            content_item_id=owner.content_item_id,
            url=url,
            url_key=hashlib.sha256(url.encode()).hexdigest(),
            **{kind: owner},
            **fields,
        )
        if queue:
            enqueue(fetch_link, link.pk)
    return link


def stored_files(private_media) -> list:
    return [p for p in private_media.rglob("*") if p.is_file()]


def no_jobs_failed():
    """The worker never dies and no job raised: RQ's failed registry is empty (with Redis)."""
    if settings.JOBS_EAGER:
        return True
    from lib.jobs import get_queue

    return get_queue().failed_job_registry.count == 0


def retry_until_done(link: Link, run_jobs, rounds: int = 10) -> Link:
    """The next attempts at a link left pending, as production makes them: RQ's retries (with
    Redis, already run by the burst worker when the intervals are 0) or the sweep."""
    for _ in range(rounds):
        link.refresh_from_db()
        if link.status != Link.Status.PENDING:
            return link
        with run_jobs():
            links_requeue_pending(older_than=timedelta(0))
    link.refresh_from_db()
    return link


class TestFetched:
    def test_an_image_link_is_stored_hashed_and_matched_like_an_upload(
        self, site, report, submit_report, run_jobs
    ):
        bank = HashBank.objects.create(
            name="Known material",
            slug="known",
            signal_types=["pdq"],
            policy=HashBank.Policy.ACT_AND_ESCALATE,
        )
        bank_import(bank=bank, text="pdq " + hash_bytes(BRIDGE)["pdq"])

        with run_jobs():
            link = new_link(report, f"{site.url}/photos/bridge.jpg")
            uploaded = submit_report(images=[inspect_media(BRIDGE, filename="bridge.jpg")])

        link.refresh_from_db()
        media = Media.objects.get(links=link)
        assert link.status == Link.Status.FETCHED and link.attempts == 1 and link.error == ""
        assert link.final_url == f"{site.url}/photos/bridge.jpg"
        assert link.content_type == "image/jpeg" and link.fetched_at is not None
        assert (media.content_item_id, media.report_id, media.flag_id, media.message_id) == (
            report.content_item_id,
            report.pk,
            None,
            None,
        )
        assert media.original_filename == "bridge.jpg"
        # Checked, stored, hashed and matched exactly as the same file uploaded.
        upload = uploaded.media.get()
        fields = ("kind", "mime", "size", "width", "height", "sha256", "md5", "pdq", "phash")
        assert [getattr(media, f) for f in fields] == [getattr(upload, f) for f in fields]
        assert media.file.name == upload.file.name  # one file, under its SHA-256
        assert media.hashed_at is not None
        match = Match.objects.get(media=media)
        assert match.entry.bank == bank and match.signal_type == "pdq"
        case = Case.objects.get(pk=report.case_id)
        assert case.priority_breakdown[0]["label"] == "known-material match: Known material"
        assert AuditEvent.objects.get(verb="media.matched", object_id=str(media.pk)).case == case

        event = AuditEvent.objects.get(verb="link.fetched")
        assert event.case == case and event.object_id == str(link.pk)
        assert event.after == {
            "link": link.pk,
            "host": "127.0.0.1",
            "media": media.pk,
            "kind": "image",
            "attempts": 1,
        }
        assert site.hits["/photos/bridge.jpg"] == 1
        assert no_jobs_failed()

    def test_a_video_link_is_stored_hashed_and_matched(self, site, report, run_jobs):
        bank = HashBank.objects.create(name="Videos", slug="videos", signal_types=["video_md5"])
        bank_import(bank=bank, text="video_md5 " + hashlib.md5(DOORKNOB).hexdigest())  # noqa: S324

        with run_jobs():
            link = new_link(report, f"{site.url}/clips/doorknob.mp4")

        link.refresh_from_db()
        assert link.status == Link.Status.FETCHED and link.content_type == "video/mp4"
        media = link.media
        assert media.kind == "video" and media.mime == "video/mp4"
        assert (media.container, media.codec, media.width, media.height) == (
            "mp4",
            "h264",
            1280,
            720,
        )
        assert media.sha256 == hashlib.sha256(DOORKNOB).hexdigest()
        assert media.hashed_at is not None and VideoHash.objects.filter(media=media).exists()
        assert Match.objects.get(media=media).signal_type == "video_md5"
        assert AuditEvent.objects.get(verb="link.fetched").after["kind"] == "video"

    def test_a_flag_s_link_gives_the_flag_its_media(self, site, run_jobs):
        flag, _ = flag_submit(
            **intake_fields(
                source="classifier",
                external_id="f-1",
                category="grooming",
                score=0.9,
                content_url="https://social.example/p/flagged",
            )
        )
        with run_jobs():
            link = new_link(flag, f"{site.url}/photo.png")
        link.refresh_from_db()
        assert (link.media.flag_id, link.media.report_id) == (flag.pk, None)
        assert AuditEvent.objects.get(verb="link.fetched").case_id == flag.case_id

    def test_a_message_s_link_gives_the_message_its_attachment(self, site, report, run_jobs):
        item = ContentItem.objects.get(pk=report.content_item_id)
        sender = Participant.objects.create(conversation=item, account_id="acct-1")
        message = Message.objects.create(
            conversation=item,
            platform_id="m-1",
            sender=sender,
            sent_at=timezone.now(),
            text=f"look {site.url}/photo.png",
            report=report,
        )
        with run_jobs():
            link = new_link(report, f"{site.url}/photo.png", message=message)
        link.refresh_from_db()
        assert list(message.attachments.all()) == [link.media]
        assert link.media.report_id == report.pk


class TestRefused:
    @pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "127.0.0.1"])
    def test_a_link_that_redirects_to_a_private_address_is_refused_and_nothing_stored(
        self, site, report, run_jobs, monkeypatch, private_media, address
    ):
        # DNS is the network beyond this machine: this name answers with a private address.
        real_getaddrinfo = socket.getaddrinfo

        def resolver(host, port, *args, **kwargs):
            if host == "innocent.example":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
            return real_getaddrinfo(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        # Pointed at the test server's own port: were the address not checked, 127.0.0.1 would
        # reach it and be served.
        target = f"http://innocent.example:{site.server_address[1]}/photo.png"

        with run_jobs():
            link = new_link(report, f"{site.url}/redirect?{target}")

        link.refresh_from_db()
        assert link.status == Link.Status.REFUSED and link.attempts == 1
        # What reviewers read names no internal address (the worker's log has it).
        assert link.error == "innocent.example resolves to an address that is not public"
        assert address not in link.error
        assert link.media is None and not Media.objects.exists()
        assert stored_files(private_media) == []
        assert site.hits["/redirect"] == 1 and site.hits["/photo.png"] == 0
        event = AuditEvent.objects.get(verb="link.refused")
        assert event.after == {"link": link.pk, "reason": link.error, "attempts": 1}
        assert event.case_id == report.case_id
        assert not AuditEvent.objects.filter(verb="link.fetched").exists()
        assert no_jobs_failed()

    @pytest.mark.parametrize(
        ("path", "reason"),
        [
            ("/page.html", "not an image or a video (text/html)"),
            ("/gzip.png", "an encoded answer (gzip) is not taken"),
            ("/bomb.png", "too many pixels to process safely (over 50,000,000)."),
            ("/bomb-warning.png", "too many pixels to process safely (over 50,000,000)."),
            ("/truncated.png", "the image is truncated or corrupt."),
            ("/text-as-image.png", "not an image or a video (JPEG, PNG, GIF or WebP; MP4,"),
            ("/missing.png", "the server answered 404"),
        ],
    )
    def test_what_an_upload_would_be_refused_for_is_refused_with_the_reason(
        self, site, report, run_jobs, private_media, path, reason
    ):
        with run_jobs():
            link = new_link(report, f"{site.url}{path}")
        link.refresh_from_db()
        assert link.status == Link.Status.REFUSED and link.attempts == 1
        assert link.error.startswith(reason)
        assert not Media.objects.exists() and stored_files(private_media) == []
        assert AuditEvent.objects.get(verb="link.refused").after["reason"] == link.error
        assert site.hits[path] == 1  # refused for good: not asked again
        assert no_jobs_failed()

    def test_an_endless_answer_is_cut_off_by_size(self, site, report, run_jobs, settings):
        settings.MAX_UPLOAD_BYTES = 1024 * 1024
        with run_jobs():
            link = new_link(report, f"{site.url}/endless.png")
        link.refresh_from_db()
        assert link.status == Link.Status.REFUSED
        assert link.error == "larger than 1048576 bytes"
        assert not Media.objects.exists()

    def test_an_answer_that_dribbles_forever_is_cut_off_by_time(
        self, site, report, run_jobs, settings
    ):
        settings.LINK_FETCH_TIMEOUT = 1.0
        started = time.monotonic()
        with run_jobs():
            link = new_link(report, f"{site.url}/dribble.mp4")
        assert time.monotonic() - started < 10
        link.refresh_from_db()
        assert link.status == Link.Status.REFUSED and link.error == "it took too long"
        assert not Media.objects.exists()


class TestTriedAgain:
    def test_a_server_that_answers_503_is_tried_again_and_then_fetched(
        self, site, report, run_jobs
    ):
        site.unavailable["/photo.png"] = 1
        with run_jobs():
            link = new_link(report, f"{site.url}/photo.png")
        link.refresh_from_db()
        # Kept for another attempt (RQ's, in 10 s, or the sweep's), with what went wrong.
        assert link.status == Link.Status.PENDING and link.attempts == 1
        assert link.error == "the server answered 503"
        assert not AuditEvent.objects.filter(verb__startswith="link.").exists()

        with run_jobs():
            assert links_requeue_pending(older_than=timedelta(0)) == 1
        link.refresh_from_db()
        assert link.status == Link.Status.FETCHED and link.attempts == 2 and link.error == ""
        assert link.media.hashed_at is not None
        assert site.hits["/photo.png"] == 2
        assert no_jobs_failed()

    @pytest.mark.skipif(settings.JOBS_EAGER, reason="RQ's retries need Redis")
    def test_rq_tries_again_after_the_delay_the_link_gives(self, site, report, run_jobs, settings):
        settings.LINK_FETCH_RETRY_INTERVALS = [0, 0, 0]
        site.unavailable["/photo.png"] = 2
        with run_jobs():
            link = new_link(report, f"{site.url}/photo.png")
        link.refresh_from_db()
        assert link.status == Link.Status.FETCHED and link.attempts == 3
        assert link.media.hashed_at is not None
        assert no_jobs_failed()

    def test_a_server_down_at_every_attempt_fails_the_link_after_the_last(
        self, site, report, run_jobs, settings
    ):
        settings.LINK_FETCH_RETRY_INTERVALS = [0, 0]
        site.unavailable["/photo.png"] = 100
        with run_jobs():
            link = new_link(report, f"{site.url}/photo.png")
        link = retry_until_done(link, run_jobs)

        assert link.status == Link.Status.FAILED and link.attempts == link_max_attempts() == 3
        assert link.error == "the server answered 503"
        assert site.hits["/photo.png"] == 3
        event = AuditEvent.objects.get(verb="link.failed")
        assert event.after == {"link": link.pk, "reason": link.error, "attempts": 3}
        assert not Media.objects.exists()
        assert links_requeue_pending(older_than=timedelta(0)) == 0
        assert no_jobs_failed()

    def test_a_link_whose_attempts_all_died_midway_is_failed_without_fetching(
        self, site, report, run_jobs
    ):
        # Each attempt was counted, then its worker was killed before it could say how it went.
        with run_jobs():
            link = new_link(
                report,
                f"{site.url}/photo.png",
                attempts=link_max_attempts(),
                error="the server answered 503",
            )
        link.refresh_from_db()
        assert link.status == Link.Status.FAILED and link.error == "the server answered 503"
        assert site.hits["/photo.png"] == 0
        assert AuditEvent.objects.filter(verb="link.failed").count() == 1

    def test_the_sweep_queues_links_whose_job_was_lost(self, site, report, run_jobs):
        lost = new_link(report, f"{site.url}/photo.png", queue=False)
        Link.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=20))
        young = new_link(report, f"{site.url}/photos/bridge.jpg", queue=False)
        refused = new_link(report, f"{site.url}/page.html", queue=False, status="refused")
        Link.objects.filter(pk=refused.pk).update(created_at=timezone.now() - timedelta(hours=1))

        with run_jobs():
            assert links_requeue_pending(older_than=timedelta(minutes=10)) == 1

        assert Link.objects.get(pk=lost.pk).status == Link.Status.FETCHED
        assert Link.objects.get(pk=young.pk).status == Link.Status.PENDING
        assert site.hits == Counter({"/photo.png": 1})

    @pytest.mark.skipif(settings.JOBS_EAGER, reason="the outbox is Redis's")
    def test_the_sweep_leaves_a_link_queued_recently_to_its_job(self, site, report):
        link = new_link(report, f"{site.url}/photo.png")  # queued, not run yet
        Link.objects.filter(pk=link.pk).update(created_at=timezone.now() - timedelta(minutes=20))
        assert links_requeue_pending(older_than=timedelta(minutes=10)) == 0


class TestOnce:
    def test_a_link_fetched_twice_stores_one_media(self, site, report, run_jobs):
        with run_jobs():
            link = new_link(report, f"{site.url}/photo.png")
        with run_jobs():
            enqueue(fetch_link, link.pk)  # the job handed over twice
        assert fetch_link(link.pk) is None  # and run by hand once more

        link.refresh_from_db()
        assert link.status == Link.Status.FETCHED and link.attempts == 1
        assert Media.objects.count() == 1 and site.hits["/photo.png"] == 1
        assert AuditEvent.objects.filter(verb="link.fetched").count() == 1
        assert AuditEvent.objects.filter(verb="media.hashed").count() == 1

    def test_two_workers_fetching_at_once_store_one_media(self, site, report, private_media):
        link = new_link(report, f"{site.url}/photo.png", queue=False)
        # Both claimed it before either stored (the job handed over twice, run by two workers).
        first, second = link_claim(link_id=link.pk), link_claim(link_id=link.pk)
        assert first[1] and second[1]
        downloads = [link_download(first[0]), link_download(second[0])]
        stored = [link_store(link_id=link.pk, downloaded=d) for d in downloads]
        assert [s.media_id for s in stored] == [stored[0].media_id] * 2
        assert Media.objects.count() == 1 and len(stored_files(private_media)) == 1
        assert AuditEvent.objects.filter(verb="link.fetched").count() == 1

    def test_a_worker_that_died_after_writing_the_file_leaves_one_media(
        self, site, report, run_jobs, private_media
    ):
        link = new_link(report, f"{site.url}/photo.png", queue=False)
        # The dead worker's part: claimed, fetched, checked, the file written... and no further.
        claimed, fetch_now = link_claim(link_id=link.pk)
        assert fetch_now
        store_media(link_download(claimed).media)
        assert len(stored_files(private_media)) == 1 and not Media.objects.exists()

        with run_jobs():
            enqueue(fetch_link, link.pk)  # the retry (or the sweep) runs it again

        link.refresh_from_db()
        assert link.status == Link.Status.FETCHED and link.attempts == 2
        assert Media.objects.count() == 1 and len(stored_files(private_media)) == 1
        assert link.media.file.read() == png_bytes()

    def test_a_worker_that_died_while_recording_leaves_one_media(
        self, site, report, run_jobs, private_media, monkeypatch
    ):
        from reports import links

        def die(**kwargs):
            raise SystemExit("worker killed")  # what a SIGTERM'd work horse raises

        link = new_link(report, f"{site.url}/photo.png", queue=False)
        monkeypatch.setattr(links, "audit_record", die)
        with pytest.raises(SystemExit):
            link_fetch(link_id=link.pk)
        link.refresh_from_db()
        assert link.status == Link.Status.PENDING and link.attempts == 1
        assert not Media.objects.exists()  # the media row went with the transaction

        monkeypatch.undo()
        with run_jobs():
            enqueue(fetch_link, link.pk)
        link.refresh_from_db()
        assert link.status == Link.Status.FETCHED and link.attempts == 2
        assert Media.objects.count() == 1 and len(stored_files(private_media)) == 1
        assert AuditEvent.objects.filter(verb="link.fetched").count() == 1


@needs_real_worker
def test_a_real_worker_fetches_an_image_and_refuses_a_redirect_to_the_metadata_service(
    site, report, private_media
):
    photo = new_link(report, f"{site.url}/photo.png")
    metadata = new_link(report, f"{site.url}/redirect?http://169.254.169.254/latest/meta-data/")

    worker = subprocess.run(
        [sys.executable, "tests/reports/link_worker.py", "high", "default", "links", "--burst"],
        cwd=ROOT,
        env=worker_env(
            PRIVATE_MEDIA_ROOT=str(private_media), LINK_WORKER_ALLOWED_HOSTS="127.0.0.1"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr

    photo.refresh_from_db()
    metadata.refresh_from_db()
    assert photo.status == Link.Status.FETCHED, (photo.error, worker.stderr)
    assert photo.media.hashed_at is not None
    assert metadata.status == Link.Status.REFUSED
    assert metadata.error == "169.254.169.254 resolves to an address that is not public"
    assert Media.objects.count() == 1
    assert no_jobs_failed()
