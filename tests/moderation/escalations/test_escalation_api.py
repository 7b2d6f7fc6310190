"""GET /api/v1/escalations and /api/v1/escalations/{id}."""

import pytest

from accounts.roles import Role
from moderation.escalations.models import Escalation
from tests.api_helpers import auth, token_for


@pytest.fixture
def senior_token(make_user):
    return token_for(make_user, "senior-api", Role.SENIOR_REVIEWER)


@pytest.mark.django_db
class TestEscalationsApi:
    def test_it_lists_newest_first_with_cursor_paging(self, client, escalate, senior_token):
        made = [escalate(owner=f"acct-{i}")[0].pk for i in range(5)]
        first = client.get("/api/v1/escalations?limit=2", **auth(senior_token)).json()
        assert [e["id"] for e in first["results"]] == made[::-1][:2]
        rest = client.get(
            f"/api/v1/escalations?limit=10&cursor={first['next']}", **auth(senior_token)
        ).json()
        assert [e["id"] for e in rest["results"]] == made[::-1][2:]
        assert rest["next"] is None

    def test_it_filters_by_status(self, client, escalate, senior_token, make_user):
        draft, _ = escalate(owner="a")
        failed, _ = escalate(owner="b")
        Escalation.objects.filter(pk=failed.pk).update(
            status="failed",
            failure_reason="The packet does not validate",
            failure_details=["line 3: bad"],
            approved_by=make_user("x", Role.SUPERVISOR),
        )
        body = client.get("/api/v1/escalations?status=failed", **auth(senior_token)).json()
        assert [e["id"] for e in body["results"]] == [failed.pk]
        assert body["results"][0]["failure"] == {
            "reason": "The packet does not validate",
            "details": ["line 3: bad"],
        }

    def test_an_unknown_status_is_a_422(self, client, senior_token):
        response = client.get("/api/v1/escalations?status=lost", **auth(senior_token))
        assert response.status_code == 422 and response.json()["error"] == "invalid_request"

    def test_one_escalation_carries_progress_and_cases(
        self, client, escalate, senior_token, make_user
    ):
        escalation, _ = escalate()
        Escalation.objects.filter(pk=escalation.pk).update(
            status="assembling",
            approved_by=make_user("x", Role.SUPERVISOR),
            progress_done=1,
            progress_total=4,
            progress_step="Copying evidence",
        )
        body = client.get(f"/api/v1/escalations/{escalation.pk}", **auth(senior_token)).json()
        assert body["status"] == "assembling"
        assert body["progress"] == {
            "done": 1,
            "total": 4,
            "percent": 25,
            "step": "Copying evidence",
        }
        assert body["case_ids"] == list(escalation.cases.values_list("pk", flat=True))
        assert body["packet"] is None and body["failure"] is None
        assert body["submission"] == {"in_progress": False, "started_at": None, "attempts": 0}

    def test_an_unknown_escalation_is_a_404(self, client, senior_token):
        response = client.get("/api/v1/escalations/999", **auth(senior_token))
        assert response.status_code == 404 and response.json()["error"] == "not_found"

    @pytest.mark.parametrize("role", [Role.PLATFORM, Role.REVIEWER])
    def test_the_platform_and_reviewers_are_refused(self, client, escalate, make_user, role):
        escalation, _ = escalate()
        token = token_for(make_user, "caller", role)
        for url in ("/api/v1/escalations", f"/api/v1/escalations/{escalation.pk}"):
            response = client.get(url, **auth(token))
            assert response.status_code == 403 and response.json()["error"] == "forbidden"

    def test_it_needs_credentials(self, client):
        assert client.get("/api/v1/escalations").status_code == 401
