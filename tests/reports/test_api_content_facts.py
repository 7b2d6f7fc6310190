"""Facts about reported content a CyberTipline report needs: when it was posted, whether it was
public, and the owner's IP capture events."""

import json
from datetime import UTC, datetime

import pytest

from reports.models import ContentItem, IpCapture, ReporterIdentity
from tests.api_helpers import auth, flag_payload, report_payload, token_for


def post(client, token, payload, url="/api/v1/reports"):
    return client.post(
        url, data=json.dumps(payload), content_type="application/json", **auth(token)
    )


def content(**extra):
    return {"id": "post-1", "url": "https://social.example/p/1", "owner_id": "u-9", **extra}


LOGIN = {"ip": "203.0.113.5", "event": "Login", "time": "2026-11-20T09:15:00Z"}
UPLOAD = {"ip": "2001:db8::1", "event": "Upload", "time": "2026-11-20T10:00:00+01:00"}


@pytest.fixture
def token(make_user):
    return token_for(make_user)


@pytest.mark.django_db
class TestContentFacts:
    def test_it_stores_posted_at_publicly_available_and_ip_captures(self, client, token):
        payload = report_payload(
            content=content(
                posted_at="2026-11-20T10:00:00+01:00",
                publicly_available=True,
                ip_captures=[LOGIN, UPLOAD],
            )
        )
        r = post(client, token, payload)
        assert r.status_code == 201, r.content
        item = ContentItem.objects.get()
        assert item.posted_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        assert item.publicly_available is True
        captures = {(c.ip, c.event, c.captured_at) for c in item.ip_captures.all()}
        assert captures == {
            ("203.0.113.5", "Login", datetime(2026, 11, 20, 9, 15, tzinfo=UTC)),
            ("2001:db8::1", "Upload", datetime(2026, 11, 20, 9, 0, tzinfo=UTC)),
        }

    def test_the_event_defaults_to_unknown(self, client, token):
        capture = {"ip": "203.0.113.5", "time": "2026-11-20T09:15:00Z"}
        post(client, token, report_payload(content=content(ip_captures=[capture])))
        assert IpCapture.objects.get().event == "Unknown"

    def test_flags_take_them_too(self, client, token):
        payload = flag_payload(
            content=content(posted_at="2026-11-19T08:00:00Z", ip_captures=[UPLOAD])
        )
        r = post(client, token, payload, url="/api/v1/flags")
        assert r.status_code == 201, r.content
        item = ContentItem.objects.get()
        assert item.posted_at == datetime(2026, 11, 19, 8, 0, tzinfo=UTC)
        assert item.publicly_available is None
        assert item.ip_captures.get().ip == "2001:db8::1"

    def test_a_later_report_adds_what_is_new_and_erases_nothing(self, client, token):
        first = content(posted_at="2026-11-20T09:00:00Z", ip_captures=[LOGIN])
        post(client, token, report_payload(content=first))
        # The second knows publicly_available and one more event, repeats LOGIN, omits the time.
        second = content(publicly_available=False, ip_captures=[LOGIN, UPLOAD])
        assert post(client, token, report_payload(content=second)).status_code == 201
        # A third claims another posting time and sends nothing else: the first one stays.
        third = content(posted_at="2026-11-21T00:00:00Z", publicly_available=True)
        assert post(client, token, report_payload(content=third)).status_code == 201
        item = ContentItem.objects.get()
        assert item.posted_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        assert item.publicly_available is False
        assert item.ip_captures.count() == 2

    def test_the_reporters_ip_is_never_an_ip_capture(self, client, token):
        post(client, token, report_payload(content=content(ip_captures=[LOGIN])))
        assert ReporterIdentity.objects.get().ip == "198.51.100.7"
        assert list(IpCapture.objects.values_list("ip", flat=True)) == ["203.0.113.5"]

    @pytest.mark.parametrize(
        "extra, loc_tail",
        [
            ({"posted_at": "2026-11-20T10:00:00"}, ["posted_at"]),  # no time zone
            ({"posted_at": "yesterday"}, ["posted_at"]),
            ({"posted_at": 1763629200}, ["posted_at"]),  # a Unix time: which unit?
            ({"publicly_available": "yes"}, ["publicly_available"]),
            ({"ip_captures": [{**LOGIN, "ip": "300.1.2.3"}]}, ["ip_captures", 0, "ip"]),
            ({"ip_captures": [{**LOGIN, "ip": 3405803781}]}, ["ip_captures", 0, "ip"]),
            ({"ip_captures": [{**LOGIN, "event": "login"}]}, ["ip_captures", 0, "event"]),
            ({"ip_captures": [{**LOGIN, "time": "2026-11-20 09:15"}]}, ["ip_captures", 0, "time"]),
            ({"ip_captures": [{"ip": "203.0.113.5"}]}, ["ip_captures", 0, "time"]),
            ({"ip_captures": [LOGIN] * 101}, ["ip_captures"]),
            # Valid ISO 8601, but no UTC time exists for them (before year 1, after 9999).
            ({"posted_at": "0001-01-01T00:00:00+05:00"}, ["posted_at"]),
            ({"posted_at": "9999-12-31T23:00:00-05:00"}, ["posted_at"]),
            (
                {"ip_captures": [{**LOGIN, "time": "0001-01-01T00:00:00+05:00"}]},
                ["ip_captures", 0, "time"],
            ),
        ],
    )
    def test_bad_values_get_422_naming_the_field(self, client, token, extra, loc_tail):
        r = post(client, token, report_payload(content=content(**extra)))
        assert r.status_code == 422, r.content
        body = r.json()
        assert body["error"] == "invalid_request"
        locs = [[str(part) for part in d["loc"]] for d in body["detail"]]
        want = ["content", *map(str, loc_tail)]
        assert any(loc[: len(want)] == want for loc in locs), locs
        assert all(d["msg"] for d in body["detail"])
        assert not ContentItem.objects.exists()
