"""Escalations carrying videos (made at test time with tests/videos.py) and images, escalated,
approved and waiting for the assembly job; the CyberTipline schema loaded on its own (not
through the code under test), as the fake CyberTipline does."""

import pytest
from lxml import etree

from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide
from reports.media import inspect_media
from tests.conftest import png_bytes
from tests.moderation import cybertip_server
from tests.moderation.packet_helpers import approve_draft
from tests.videos import make_video

OWNER = "acct-video"
# The fake CyberTipline's own copy of the schema, loaded independently of the code under test.
_schema = cybertip_server._schema


def schema_errors(xml: bytes) -> list[str]:
    """The CyberTipline schema's complaints about a document ([] when valid)."""
    document = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    with cybertip_server._schema_lock:  # shared with the fake server's thread
        if _schema.validate(document):
            return []
        return [f"line {e.line}: {e.message}" for e in _schema.error_log]


def video(name="clip.mp4", container="mp4", codec="libx264", **options):
    """A checked video, as the intake services take them (a 2-second 64 x 48 one by default)."""
    options = {"width": 64, "height": 48, "frames": 20, "fps": 10, **options}
    return inspect_media(make_video(container, codec, **options), filename=name)


def image(name="photo.png", colour=(200, 80, 40)):
    return inspect_media(png_bytes(colour), filename=name)


@pytest.fixture
def approved_media(make_user, reviewer, submit_report, run_jobs):
    """make([[media, ...] for each case], **report) → an escalation of OWNER's cases in
    ASSEMBLING (its job not run yet), each case's media received and hashed."""
    counter = iter(range(1, 10_000))

    def make(cases, **report):
        for media in cases:
            n = next(counter)
            with run_jobs():  # hashing the media
                submit_report(
                    category="csam",
                    involves_child=True,
                    platform_id=f"video-post-{n}",
                    content_url=f"https://social.example/v/{n}",
                    owner_id=OWNER,
                    images=media,
                    **report,
                )
            case = case_claim_next(user=reviewer)
            case_decide(
                case_id=case.pk,
                user=reviewer,
                action="escalate",
                policy="child safety",
                intent="malicious",
                classification="A1",
            )
        return approve_draft(
            owner_id=OWNER,
            reviewer=reviewer,
            make_user=make_user,
            summary="Videos of a child shared publicly.",
        )

    return make


@pytest.fixture
def fake_cybertip(settings):
    """A fake CyberTipline (tests/moderation/cybertip_server.py) the settings point at, retrying
    at once."""
    server = cybertip_server.FakeCyberTipline()
    httpd = cybertip_server.start(server)
    settings.CYBERTIP_API_URL = server.url
    settings.CYBERTIP_USERNAME = cybertip_server.USERNAME
    settings.CYBERTIP_PASSWORD = cybertip_server.PASSWORD
    settings.CYBERTIP_RETRY_INTERVALS = [0, 0]
    yield server
    httpd.shutdown()
    httpd.server_close()
