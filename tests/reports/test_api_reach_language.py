"""Reach and language on the API's `content` object: optional, validated, stored on the item, and
used by priority (reach) and routing (language)."""

import json

import pytest

from moderation.cases.models import Case
from reports.models import ContentItem
from tests.api_helpers import auth, report_payload, token_for


def post(client, token, content: dict, url="/api/v1/reports", **fields):
    payload = report_payload(
        content={"id": "post-1", "url": "https://social.example/p/1", **content},
        category="harassment",
        involves_child=False,
        media=[],
        **fields,
    )
    return client.post(
        url, data=json.dumps(payload), content_type="application/json", **auth(token)
    )


def flag(client, token, content: dict, external_id="f-1"):
    payload = {
        "content": {"id": "post-1", **content},
        "category": "harassment",
        "source": "toxicity",
        "external_id": external_id,
        "score": 0.5,
    }
    return client.post(
        "/api/v1/flags", data=json.dumps(payload), content_type="application/json", **auth(token)
    )


@pytest.fixture
def token(make_user):
    return token_for(make_user)


@pytest.mark.django_db
class TestReach:
    def test_reach_counts_on_a_log_scale_in_the_breakdown(self, client, token):
        r = post(client, token, {"reach": 12_000})
        assert r.status_code == 201, r.content
        case = Case.objects.get(pk=r.json()["case_id"])
        assert ContentItem.objects.get().reach == 12_000
        # log10(12,000) = 4.08 decades at 10 points each.
        assert {"label": "reach 12,000 views", "points": 41} in case.priority_breakdown
        assert case.priority == 100 + 41

    def test_reach_points_are_capped(self, client, token):
        r = post(client, token, {"reach": 5_000_000_000})
        case = Case.objects.get(pk=r.json()["case_id"])
        assert {"label": "reach 5,000,000,000 views", "points": 60} in case.priority_breakdown

    def test_no_reach_or_zero_reach_adds_nothing(self, client, token):
        r = post(client, token, {"reach": 0})
        assert r.status_code == 201
        case = Case.objects.get(pk=r.json()["case_id"])
        assert not any(p["label"].startswith("reach") for p in case.priority_breakdown)

    def test_a_larger_reach_later_raises_the_case_and_a_smaller_one_does_not_lower_it(
        self, client, token
    ):
        post(client, token, {"reach": 100})
        assert flag(client, token, {"reach": 1_000_000}).status_code == 201
        assert ContentItem.objects.get().reach == 1_000_000
        post(client, token, {"reach": 5})
        assert ContentItem.objects.get().reach == 1_000_000
        case = Case.objects.get()
        assert {"label": "reach 1,000,000 views", "points": 60} in case.priority_breakdown

    @pytest.mark.parametrize("reach", [-1, 1.5, True, "100", 10**13])
    def test_a_bad_reach_is_a_422_naming_the_field(self, client, token, reach):
        r = post(client, token, {"reach": reach})
        assert r.status_code == 422, r.content
        body = r.json()
        assert body["error"] == "invalid_request"
        assert "reach" in json.dumps(body["detail"])
        assert not Case.objects.exists()


@pytest.mark.django_db
class TestLanguage:
    @pytest.mark.parametrize(
        "given, stored",
        [("de", "de"), ("pt-br", "pt-BR"), ("ZH-hant-tw", "zh-Hant-TW"), ("", "")],
    )
    def test_a_language_tag_is_stored_in_its_usual_case(self, client, token, given, stored):
        r = post(client, token, {"language": given})
        assert r.status_code == 201, r.content
        assert ContentItem.objects.get().language == stored

    @pytest.mark.parametrize("bad", ["english", "e", "de_DE", "pt-", "12", "x" * 40])
    def test_a_bad_language_tag_is_a_422(self, client, token, bad):
        r = post(client, token, {"language": bad})
        assert r.status_code == 422, r.content
        assert r.json()["error"] == "invalid_request"
        assert "language" in json.dumps(r.json()["detail"])

    def test_the_openapi_document_describes_both(self, client):
        doc = client.get("/api/v1/openapi.json").json()
        content = doc["components"]["schemas"]["ContentIn"]["properties"]
        assert "BCP 47" in content["language"]["description"]
        assert "pattern" in json.dumps(content["language"])
        assert "reach" in content
