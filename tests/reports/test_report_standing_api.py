"""The platform reads how a report it forwarded stands, by reference: received, under review,
actioned or no action; never which action or anything about the owner. Only its own reports."""

import json

import pytest

from accounts.roles import Role
from accounts.services import api_token_create
from moderation.cases.services import case_claim_next
from moderation.review.appeals import appeal_open
from moderation.review.services import case_decide
from reports.models import Report
from tests.api_helpers import auth, report_payload, token_for


def forward(client, token, content_id="post-1", category="harassment"):
    payload = report_payload(
        content={"id": content_id, "url": f"https://social.example/p/{content_id}"},
        category=category,
        involves_child=False,
        media=[],
    )
    r = client.post("/api/v1/reports", json.dumps(payload), "application/json", **auth(token))
    assert r.status_code == 201, r.content
    return r.json()["reference"]


def standing(client, token, reference):
    return client.get(f"/api/v1/reports/{reference}", **auth(token))


@pytest.mark.django_db
class TestReportStanding:
    def test_it_follows_the_report_from_received_to_its_outcome(self, client, make_user, reviewer):
        token = token_for(make_user)
        reference = forward(client, token)
        r = standing(client, token, reference)
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"reference", "received_at", "status"}
        assert body["reference"] == reference and body["status"] == "received"
        case = case_claim_next(user=reviewer)
        assert standing(client, token, reference).json()["status"] == "under_review"
        case_decide(case_id=case.pk, user=reviewer, action="suspend", policy="harassment")
        assert standing(client, token, reference).json()["status"] == "actioned"
        # Lower case, as a person might type it, finds it too.
        assert standing(client, token, reference.lower()).json()["status"] == "actioned"

    def test_a_referral_is_under_review_and_no_violation_is_no_action(
        self, client, make_user, reviewer
    ):
        token = token_for(make_user)
        reference = forward(client, token)
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="senior_review", policy="harassment")
        assert standing(client, token, reference).json()["status"] == "under_review"
        senior = make_user("sena", Role.SENIOR_REVIEWER)
        case_claim_next(user=senior)
        case_decide(case_id=case.pk, user=senior, action="no_violation", policy="harassment")
        assert standing(client, token, reference).json()["status"] == "no_action"

    def test_an_appeal_outcome_is_the_standing_one(self, client, make_user, reviewer):
        token = token_for(make_user)
        reference = forward(client, token, content_id="post-7")
        case = case_claim_next(user=reviewer)
        case_decide(case_id=case.pk, user=reviewer, action="remove", policy="harassment")
        appeal_open(content_id="post-7", statement="satire", actor_label="api token t")
        # While the appeal is open the decision stands.
        assert standing(client, token, reference).json()["status"] == "actioned"
        other = make_user("otto")
        case_claim_next(user=other)
        case_decide(case_id=case.pk, user=other, action="no_violation", policy="harassment")
        assert standing(client, token, reference).json()["status"] == "no_action"

    def test_another_account_and_unknown_references_get_404(self, client, make_user):
        mine = token_for(make_user)
        theirs = token_for(make_user, username="other-platform")
        reference = forward(client, mine)
        for token, ref in [
            (theirs, reference),
            (mine, "VR-AAAA-BBBB"),
            (mine, "not-a-reference"),
            (mine, "VR-%00AB-CDEF"),
        ]:
            r = standing(client, token, ref)
            assert r.status_code == 404, (ref, r.content)
            assert r.json()["error"] == "not_found"

    def test_it_needs_the_read_or_report_scope(self, client, make_user):
        token = token_for(make_user)
        reference = forward(client, token)
        owner = Report.objects.get(reference=reference).submitted_by
        read_only = api_token_create(user=owner, name="reader", scopes=["read"])[1]
        flag_only = api_token_create(user=owner, name="flagger", scopes=["flag"])[1]
        assert standing(client, read_only, reference).status_code == 200
        r = standing(client, flag_only, reference)
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert client.get(f"/api/v1/reports/{reference}").status_code == 401

    def test_it_is_in_the_openapi_document(self, client):
        schema = client.get("/api/v1/openapi.json").json()
        operation = schema["paths"]["/api/v1/reports/{reference}"]["get"]
        assert "200" in operation["responses"] and "404" in operation["responses"]
        out = schema["components"]["schemas"]["ReportStandingOut"]
        assert out["properties"]["status"]["enum"] == [
            "received",
            "under_review",
            "actioned",
            "no_action",
        ]
        reporter = schema["components"]["schemas"]["ReporterIn"]["properties"]
        assert (
            reporter["notify"]["default"] is False
            and "e-mails" in reporter["notify"]["description"]
        )
