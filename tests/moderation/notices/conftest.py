"""Fixtures for reporter notices: reports whose reporter asked to hear back, decisions, the mail
server down (a closed port) or up (Django's locmem backend, or a real local SMTP listener), and
driving the retry schedule the way production does."""

import pytest

from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide
from tests.moderation.notices import smtp_server
from tests.moderation.notices.helpers import smtp_at

# Short, growing intervals so the retry schedule runs in seconds.
TEST_INTERVALS = [1, 2]


@pytest.fixture(autouse=True)
def short_retries(settings):
    settings.NOTICE_RETRY_INTERVALS = TEST_INTERVALS
    settings.VIGIL_PLATFORM_NAME = "Example Social"
    settings.PUBLIC_URL = "https://report.example.org"


@pytest.fixture
def report_with_email(submit_report, run_jobs):
    """Submit a report whose reporter asked to hear back; its jobs (the notice) run after commit."""
    counter = iter(range(1, 10_000))

    def submit(email=None, **fields):
        n = next(counter)
        fields.setdefault("owner_id", "owner-account-77")
        fields.setdefault("owner_handle", "@owner_handle_77")
        with run_jobs():
            return submit_report(
                reporter_email=email or f"reporter{n}@mail.example",
                reporter_notify=True,
                **fields,
            )

    return submit


@pytest.fixture
def decide(run_jobs):
    """`user` claims the next case (it must be `case`) and decides it; jobs run after commit."""

    def make(case, user, action="remove", policy="harassment", **decision):
        claimed = case_claim_next(user=user)
        assert claimed is not None and claimed.pk == case.pk
        with run_jobs():
            return case_decide(case_id=case.pk, user=user, action=action, policy=policy, **decision)

    return make


@pytest.fixture
def mail_server_down(settings):
    """The SMTP server configured but down: nothing listens on its port."""
    port = smtp_server.closed_port()
    smtp_at(settings, port)
    return port


@pytest.fixture
def mail_server():
    """Start a local SMTP listener (on `port`, or any): `start(port=..., refuse=...)`."""
    servers = []

    def start(port: int = 0, refuse: bool = False) -> smtp_server.Mailbox:
        mailbox = smtp_server.Mailbox(refuse_recipients=refuse)
        server = smtp_server.start(mailbox, port)
        mailbox.port = server.server_address[1]
        servers.append(server)
        return mailbox

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
