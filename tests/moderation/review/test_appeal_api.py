import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Appeal
from moderation.review.services import case_decide
from tests.api_helpers import auth, token_for


@pytest.fixture
def platform_token(make_user):
    return token_for(make_user)


@pytest.fixture
def decided_case(reviewer, submit_report):
    submit_report(category="harassment", platform_id="post-7", owner_id="owner-1")
    case = case_claim_next(user=reviewer)
    case_decide(case_id=case.pk, user=reviewer, action="remove", policy="harassment")
    return case


def post(client, token, body, raw=None):
    return client.post(
        "/api/v1/appeals",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
        **auth(token),
    )


BODY = {"content_id": "post-7", "statement": "My post quoted a news article."}


@pytest.mark.django_db
class TestAppealApi:
    def test_it_files_the_appeal_and_reopens_the_case(self, client, platform_token, decided_case):
        response = post(client, platform_token, BODY)
        assert response.status_code == 201
        body = response.json()
        appeal = Appeal.objects.get()
        assert body == {
            "appeal_id": appeal.pk,
            "case_id": decided_case.pk,
            "status": "open",
            "decided_at": None,
        }
        assert appeal.statement == BODY["statement"]
        decided_case.refresh_from_db()
        assert decided_case.status == Case.Status.OPEN and decided_case.queue.slug == "appeals"
        event = AuditEvent.objects.get(verb="appeal.opened")
        assert event.actor_label.startswith("api token test")

    def test_it_is_idempotent_while_the_appeal_is_open(self, client, platform_token, decided_case):
        first = post(client, platform_token, BODY).json()
        again = post(client, platform_token, {**BODY, "statement": "Sent twice."})
        assert again.status_code == 200
        assert again.json() == first
        assert Appeal.objects.count() == 1

    def test_it_answers_clearly_when_there_is_nothing_to_appeal(
        self, client, platform_token, submit_report
    ):
        response = post(client, platform_token, {**BODY, "content_id": "unknown"})
        assert response.status_code == 404 and response.json()["error"] == "not_found"
        submit_report(category="spam", platform_id="post-8")
        response = post(client, platform_token, {**BODY, "content_id": "post-8"})
        assert response.status_code == 409 and response.json()["error"] == "under_review"

    @pytest.mark.parametrize(
        "body",
        [
            {"content_id": "post-7"},
            {"content_id": "post-7", "statement": ""},
            {"content_id": "post-7", "statement": "x" * 5001},
            {"content_id": "post-7", "statement": 12},
            {"content_id": "", "statement": "why"},
            {"content_id": "post-7", "statement": "nul \u0000 char"},
        ],
    )
    def test_it_refuses_invalid_input_with_422(self, client, platform_token, decided_case, body):
        response = post(client, platform_token, body)
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_request"
        assert Appeal.objects.count() == 0

    def test_it_refuses_broken_json(self, client, platform_token):
        response = post(client, platform_token, None, raw="{not json")
        assert response.status_code == 400 and response.json()["error"] == "malformed_json"

    def test_it_needs_the_report_scope(self, client, make_user, decided_case):
        reviewer_token = token_for(make_user, "rev2", Role.REVIEWER)
        response = post(client, reviewer_token, BODY)
        assert response.status_code == 403 and "report" in response.json()["detail"]
        assert client.post("/api/v1/appeals", data=BODY).status_code == 401

    def test_the_platform_reads_how_its_appeal_stands(
        self, client, make_user, platform_token, decided_case
    ):
        filed = post(client, platform_token, BODY).json()
        url = f"/api/v1/appeals/{filed['appeal_id']}"
        response = client.get(url, **auth(platform_token))
        assert response.status_code == 200
        assert response.json() == {**filed, "decided_at": None}
        other = make_user("other")
        case_claim_next(user=other)
        case_decide(case_id=decided_case.pk, user=other, action="no_violation", policy="harassment")
        body = client.get(url, **auth(platform_token)).json()
        assert body["status"] == "overturned" and body["decided_at"]
        # Another platform account does not see it, nor does anyone see an unknown id.
        stranger = token_for(make_user, "platform2")
        assert client.get(url, **auth(stranger)).status_code == 404
        assert client.get("/api/v1/appeals/99999", **auth(platform_token)).status_code == 404

    def test_it_is_documented_in_the_openapi_schema(self, client):
        doc = client.get("/api/v1/openapi.json").json()
        operation = doc["paths"]["/api/v1/appeals"]["post"]
        assert {"200", "201", "404", "409", "422"} <= set(operation["responses"])
        assert "report" in operation["description"]


@pytest.mark.django_db
class TestDecidingAnAppealOverTheApi:
    def test_the_original_reviewer_is_refused_with_403(self, client, reviewer, decided_case):
        from accounts.services import api_token_create

        Appeal.objects.create(
            case=decided_case, decision=decided_case.decisions.get(), statement="x"
        )
        Case.objects.filter(pk=decided_case.pk).update(
            status="open",
            decided_at=None,
            assignee=reviewer,
            lease_expires_at=timezone.now() + timedelta(minutes=5),
        )
        token = api_token_create(user=reviewer, name="cli")[1]
        response = client.post(
            f"/api/v1/cases/{decided_case.pk}/decision",
            data=json.dumps({"action": "no_violation", "policy": "harassment"}),
            content_type="application/json",
            **auth(token),
        )
        assert response.status_code == 403
        assert response.json()["error"] == "own_decision_appealed"
