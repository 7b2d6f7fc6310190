"""Intake: one case across surfaces, no server errors on bad input, platforms read only their own cases, client addresses and report status."""

import json
from datetime import timedelta

import pytest
from django.test import RequestFactory, override_settings

from accounts.roles import Role
from lib.http import client_ip, rate_limit_key
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide
from reports.models import ContentItem, Report
from tests.api_helpers import auth, flag_payload, token_for


@pytest.mark.django_db
class TestRollupAcrossSurfaces:
    def test_a_form_report_and_a_platform_flag_about_one_post_share_a_case(self, client, make_user):
        token = token_for(make_user)
        client.post(
            "/api/v1/flags",
            data=json.dumps(
                flag_payload(content={"id": "post-77", "url": "https://social.example/p/77"})
            ),
            content_type="application/json",
            **auth(token),
        )
        client.post(
            "/report/", {"category": "csam", "content_url": "https://SOCIAL.example/p/77#x"}
        )
        assert ContentItem.objects.count() == 1
        assert Case.objects.get().reports_count == 1 and Case.objects.get().flags_count == 1

    def test_a_form_report_first_then_the_platform(self, client, make_user):
        client.post("/report/", {"category": "spam", "content_url": "https://social.example/p/8"})
        token = token_for(make_user)
        client.post(
            "/api/v1/flags",
            data=json.dumps(
                flag_payload(content={"id": "post-8", "url": "https://social.example/p/8"})
            ),
            content_type="application/json",
            **auth(token),
        )
        # And later the platform again, with the id alone.
        client.post(
            "/api/v1/flags",
            data=json.dumps(flag_payload(external_id="e2", content={"id": "post-8"})),
            content_type="application/json",
            **auth(token),
        )
        item = ContentItem.objects.get()
        assert item.platform_id == "post-8"
        assert Case.objects.get().flags_count == 2


@pytest.mark.django_db
class TestNoServerErrors:
    def test_a_very_long_url_is_accepted(self, client):
        url = "https://social.example/" + "p" * 1900
        r = client.post("/report/", {"category": "spam", "content_url": url})
        assert r.status_code == 302
        assert Report.objects.get().content_item.url == url

    def test_an_overlong_email_is_a_form_error(self, client):
        email = "a" * 250 + "@example.org"
        r = client.post(
            "/report/", {"category": "spam", "content_url": "https://a.example/", "email": email}
        )
        assert r.status_code == 200 and "email" in r.context["form"].errors

    def test_a_nul_in_a_reference_is_a_404(self, client):
        assert client.get("/report/received/VR-%00AB-CDEF/").status_code == 404


@pytest.mark.django_db
class TestPlatformReadsOnlyItsOwnCases:
    def test_it(self, client, make_user, reviewer, submit_report):
        token = token_for(make_user)
        r = client.post(
            "/api/v1/flags",
            data=json.dumps(flag_payload()),
            content_type="application/json",
            **auth(token),
        )
        own = r.json()["case_id"]
        case = case_claim_next(user=reviewer)
        case_decide(
            case_id=case.pk,
            user=reviewer,
            action="no_violation",
            policy="child-safety/sexual-exploitation",
        )
        body = client.get(f"/api/v1/cases/{own}", **auth(token)).json()
        assert body["decisions"][0]["reviewer"] == "" and body["assignee"] is None
        other = submit_report().case_id
        assert client.get(f"/api/v1/cases/{other}", **auth(token)).status_code == 404


class TestClientAddress:
    def request(self, **meta):
        return RequestFactory().get("/", **meta)

    def test_without_proxies_forwarded_headers_are_ignored(self):
        assert (
            client_ip(self.request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4"))
            == "10.0.0.1"
        )

    @override_settings(TRUSTED_PROXIES=1)
    def test_behind_one_proxy_the_last_hop_is_the_client(self):
        request = self.request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
        assert client_ip(request) == "203.0.113.9"  # the spoofable left part is never believed

    @override_settings(TRUSTED_PROXIES=1)
    def test_a_garbled_header_falls_back_to_the_proxy(self):
        assert (
            client_ip(self.request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip"))
            == "10.0.0.1"
        )

    def test_ipv6_is_limited_per_slash_64(self):
        assert rate_limit_key("2001:db8::1") == rate_limit_key("2001:db8::ffff") == "2001:db8::/64"
        assert rate_limit_key("::ffff:192.0.2.1") == "192.0.2.1"
        assert rate_limit_key("192.0.2.1") == "192.0.2.1"


@pytest.mark.django_db
def test_the_form_limit_counts_an_ipv6_network_once(client, settings):
    settings.PUBLIC_FORM_RATE_PER_MINUTE = 2
    data = {"category": "spam", "content_url": "https://a.example/1"}
    codes = [
        client.post("/report/", data, REMOTE_ADDR=f"2001:db8::{i}").status_code for i in range(1, 4)
    ]
    assert codes == [302, 302, 429]


@pytest.mark.django_db
class TestStatusStates:
    def test_a_report_counted_on_decided_content_is_already_reviewed(
        self, client, reviewer, submit_report
    ):
        submit_report(platform_id="p1")
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="no_violation", policy="harassment")
        late = submit_report(platform_id="p1")
        r = client.get("/report/status/", {"reference": late.reference})
        assert b"Already reviewed" in r.content

    def test_sending_to_senior_review_is_not_yet_reviewed(self, client, reviewer, submit_report):
        report = submit_report()
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="senior_review", policy="harassment")
        r = client.get("/report/status/", {"reference": report.reference})
        assert b"Waiting for review" in r.content


def test_stored_images_leave_no_partial_files(private_media, png_upload, db):
    from reports.media import store_media

    name = store_media(png_upload())
    assert store_media(png_upload()) == name
    files = [p.name for p in private_media.rglob("*") if p.is_file()]
    assert files == [name.rsplit("/", 1)[1]]


@pytest.mark.django_db(transaction=True)
def test_a_job_that_cannot_be_enqueued_does_not_block_the_rest(settings, submit_report, png_upload):
    import shutil

    from lib.jobs import get_queue
    from moderation.outbox.models import OutboxJob
    from moderation.outbox.services import outbox_prune, relay
    from tests.moderation.outbox.test_outbox import RedisServer, free_port

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port())
    settings.JOBS_EAGER = False
    settings.REDIS_URL = f"redis://127.0.0.1:{server.port}/0"
    try:
        submit_report(images=[png_upload()])  # Redis down: stays pending
        OutboxJob.objects.create(func="reports.jobs.no_such_job", args=[1])
        OutboxJob.objects.filter(func="reports.jobs.no_such_job").update(
            created_at=OutboxJob.objects.order_by("pk").first().created_at - timedelta(seconds=1)
        )
        server.start()
        assert relay(older_than=timedelta(0)) == 1
        broken = OutboxJob.objects.get(func="reports.jobs.no_such_job")
        assert (
            broken.enqueued_at is None
            and "ImportError" in broken.last_error
            or "AttributeError" in broken.last_error
        )
        assert len(get_queue()) == 1
        OutboxJob.objects.filter(enqueued_at__isnull=False).update(
            enqueued_at=broken.created_at - timedelta(days=8)
        )
        assert outbox_prune(older_than=timedelta(days=7)) == 1
    finally:
        server.stop()


@pytest.mark.django_db
def test_a_new_token_is_not_kept_in_a_cookie(client, make_user, admin_user):
    import re

    platform = make_user("platform", Role.PLATFORM, queues=[])
    client.force_login(admin_user)
    r = client.post(
        "/admin/accounts/apitoken/add/",
        {"user": platform.pk, "name": "prod", "rate_limit_per_minute": 10},
    )
    follow = client.get(r.url)
    token = re.search(rb"(vgl_[A-Za-z0-9_\-]+)", follow.content).group(1).decode()
    assert all(token not in morsel.value for morsel in client.cookies.values())
