import json

import pytest

from accounts.roles import Role
from accounts.services import api_token_create
from moderation.decisions.models import Decision


@pytest.fixture
def reviewer_token(reviewer):
    return api_token_create(user=reviewer, name="cli")[1]


def h(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.django_db
class TestReviewApi:
    def test_queues_lists_certified_queues_with_counts(self, client, reviewer_token, submit_report):
        submit_report(category="csam")
        r = client.get("/api/v1/queues", **h(reviewer_token))
        assert r.status_code == 200
        queues = {q["slug"]: q for q in r.json()}
        assert queues["child-safety"]["open_count"] == 1
        assert "senior-review" not in queues  # a plain reviewer does not work it

    def test_claim_then_decide(self, client, reviewer_token, submit_report, png_upload):
        report = submit_report(category="csam", images=[png_upload()])
        r = client.post("/api/v1/queues/child-safety/claim", **h(reviewer_token))
        assert r.status_code == 200
        body = r.json()
        assert body["case"]["id"] == report.case_id
        assert body["lease_expires_at"]
        assert body["case"]["media"][0]["sha256"] == report.media.get().sha256
        assert body["case"]["priority_breakdown"][0]["label"].startswith("category")

        r = client.post(
            f"/api/v1/cases/{report.case_id}/decision",
            data=json.dumps({"action": "remove", "policy": "child-safety/sexual-exploitation"}),
            content_type="application/json",
            **h(reviewer_token),
        )
        assert r.status_code == 422
        assert set(r.json()["detail"]) == {"intent", "classification"}
        csam_finding = {
            "action": "remove",
            "policy": "child-safety/sexual-exploitation",
            "intent": "malicious",
            "classification": "A2",
        }
        r = client.post(
            f"/api/v1/cases/{report.case_id}/decision",
            data=json.dumps(csam_finding),
            content_type="application/json",
            **h(reviewer_token),
        )
        # Removal alone is not enough for CSAM: it must be reported too.
        assert r.status_code == 422
        assert "Escalate to authority" in r.json()["detail"]["action"][0]
        r = client.post(
            f"/api/v1/cases/{report.case_id}/decision",
            data=json.dumps({**csam_finding, "action": "escalate"}),
            content_type="application/json",
            **h(reviewer_token),
        )
        assert r.status_code == 201
        assert r.json()["proposed_action"] == "" and r.json()["safety_notice"] is False
        assert Decision.objects.get().classification == "A2"
        case = client.get(f"/api/v1/cases/{report.case_id}", **h(reviewer_token)).json()
        assert case["status"] == "decided" and case["decisions"][0]["reviewer"] == "rita"

    def test_a_decision_on_a_case_that_changed_since_it_was_seen_is_409(
        self, client, reviewer_token, submit_report
    ):
        first = submit_report(category="spam", content_url="https://social.example/p/seen")
        r = client.post("/api/v1/queues/general/claim", **h(reviewer_token))
        seen = r.json()["case"]["version"]
        # Another person reports the same content while the reviewer decides.
        submit_report(category="spam", content_url="https://social.example/p/seen")

        def decide(version):
            return client.post(
                f"/api/v1/cases/{first.case_id}/decision",
                data=json.dumps({"action": "remove", "policy": "spam", "seen": version}),
                content_type="application/json",
                **h(reviewer_token),
            )

        r = decide(seen)
        assert r.status_code == 409
        assert r.json()["error"] == "case_changed"
        assert not Decision.objects.filter(case_id=first.case_id).exists()
        now = client.get(f"/api/v1/cases/{first.case_id}", **h(reviewer_token)).json()["version"]
        assert now != seen
        assert decide(now).status_code == 201

    def test_claim_returns_204_when_nothing_waits(self, client, reviewer_token):
        assert client.post("/api/v1/queues/general/claim", **h(reviewer_token)).status_code == 204

    def test_deciding_a_case_not_held_is_409(self, client, reviewer_token, submit_report):
        case_id = submit_report().case_id
        r = client.post(
            f"/api/v1/cases/{case_id}/decision",
            data=json.dumps({"action": "remove", "policy": "harassment"}),
            content_type="application/json",
            **h(reviewer_token),
        )
        assert r.status_code == 409
        assert r.json()["error"] == "case_not_held"

    def test_a_platform_token_cannot_claim(self, client, make_user):
        user = make_user("platform", Role.PLATFORM, queues=[])
        token = api_token_create(user=user, name="p")[1]
        assert client.post("/api/v1/queues/general/claim", **h(token)).status_code == 403

    def test_an_uncertified_reviewer_cannot_read_the_case(self, client, make_user, submit_report):
        from moderation.cases.models import Queue

        user = make_user("gen", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        token = api_token_create(user=user, name="t")[1]
        case_id = submit_report(category="csam").case_id
        assert client.get(f"/api/v1/cases/{case_id}", **h(token)).status_code == 403

    def test_the_openapi_document_describes_the_contract(self, client):
        doc = client.get("/api/v1/openapi.json").json()
        for path in [
            "/api/v1/reports",
            "/api/v1/flags",
            "/api/v1/flags/batch",
            "/api/v1/queues",
            "/api/v1/cases/{case_id}",
            "/api/v1/queues/{slug}/claim",
            "/api/v1/cases/{case_id}/decision",
        ]:
            assert path in doc["paths"], path
        docs = client.get("/api/v1/docs")
        assert docs.status_code == 200
        # Served from our static files: the machines Vigil runs on may not reach a CDN.
        assert b"/static/ninja/swagger-ui-bundle.js" in docs.content
        assert b"cdn" not in docs.content.lower()
