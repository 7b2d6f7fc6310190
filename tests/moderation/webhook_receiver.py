"""A stand-in for the platform's webhook endpoint: a real HTTP server on 127.0.0.1 in a thread.

It verifies each request's signature the way docs/webhooks.md tells platform engineers to, answers
with the statuses a test scripts, and remembers everything it received.
"""

import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.local_server import serve_in_thread

SECRET = "test-webhook-secret-0123456789abcdef"  # noqa: S105
TOLERANCE_SECONDS = 300


def verify_signature(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """The recipe from docs/webhooks.md, as a platform engineer would write it."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    candidates = [v for k, v in (item.split("=", 1) for item in header.split(",")) if k == "v1"]
    return any(hmac.compare_digest(expected, c) for c in candidates)


@dataclass
class Received:
    headers: dict
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers requests with `statuses` in turn (the last one repeats)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int:
        index = min(len(self.received) - 1, len(self.statuses) - 1)
        return self.statuses[index]


def start(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append(
                Received(
                    headers=dict(self.headers.items()),
                    body=body,
                    signature_ok=verify_signature(
                        SECRET, self.headers.get("Vigil-Signature", ""), body
                    ),
                )
            )
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.answer()
            answer = b'{"error":"unknown account"}' if 400 <= status < 500 else b"{}"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/vigil/webhook"
    serve_in_thread(server)
    return server


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/vigil/webhook"


# Fixtures (imported by the webhook test modules).
import pytest  # noqa: E402
from django.conf import settings as django_settings  # noqa: E402

# Short, growing intervals so the retry schedule runs in seconds.
TEST_INTERVALS = [1, 2]


def configure(settings, url: str) -> None:
    settings.PLATFORM_WEBHOOK_URL = url
    settings.PLATFORM_WEBHOOK_SECRET = SECRET
    settings.PLATFORM_WEBHOOK_TIMEOUT_SECONDS = 2
    settings.PLATFORM_WEBHOOK_RETRY_INTERVALS = TEST_INTERVALS


@pytest.fixture
def platform(settings):
    """The platform's endpoint, up, answering 200 unless a test sets `statuses`."""
    receiver = Receiver()
    server = start(receiver)
    configure(settings, receiver.url)
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def platform_down(settings):
    """The platform's endpoint configured but down (nothing listens on its port)."""
    configure(settings, closed_port_url())


@pytest.fixture
def decide(reviewer, submit_report, run_jobs):
    """Submit a report and decide it with `action`; jobs (the first delivery) run after commit."""
    from moderation.cases.services import case_claim_next
    from moderation.review.services import case_decide

    counter = iter(range(1, 10_000))

    def make(action="remove", category="spam", policy="spam", decision=None, **report):
        report.setdefault("platform_id", f"post-{next(counter)}")
        report.setdefault("owner_id", "acct-42")
        submit_report(category=category, **report)
        case = case_claim_next(user=reviewer)
        with run_jobs():
            case_decide(
                case_id=case.pk, user=reviewer, action=action, policy=policy, **(decision or {})
            )
        return case

    return make


def drive_retries(*, timeout: float = 20.0) -> None:
    """Let the retry schedule run out: until no delivery is pending.

    Embedded mode: time passes (due dates are moved to now) and `manage.py deliver_actions --once`
    runs. With Redis: a real RQ worker with its scheduler works the queue in bursts while the
    real intervals elapse.
    """
    from django.core.management import call_command
    from django.utils import timezone

    from moderation.enforcement.models import WebhookDelivery

    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
    deadline = time.monotonic() + timeout
    while pending.exists():
        assert time.monotonic() < deadline, "deliveries still pending after the whole schedule"
        if django_settings.JOBS_EAGER:
            pending.update(next_attempt_at=timezone.now())
            call_command("deliver_actions", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
        else:
            from django.test import TestCase
            from rq import SimpleWorker

            from lib.jobs import get_queue

            # What the relay loop does every minute: queue again deliveries whose job was lost.
            # (The test's transaction never commits: run the jobs' on-commit hand-over here.)
            with TestCase.captureOnCommitCallbacks(execute=True):
                call_command("deliver_actions", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
            queue = get_queue()
            SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=True)
            time.sleep(0.3)
