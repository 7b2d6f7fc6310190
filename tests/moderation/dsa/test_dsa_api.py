import base64

import pytest

from accounts.roles import Role
from tests.api_helpers import auth, token_for

LIST = "/api/v1/statements-of-reasons"


@pytest.fixture
def platform(make_user):
    return auth(token_for(make_user))


def get(client, url, headers, **params):
    return client.get(url, params, **headers)


@pytest.mark.django_db
class TestList:
    def test_it_lists_statements_ready_to_submit(self, client, platform, dsa_decide):
        decision = dsa_decide("remove", "harassment")
        response = get(client, LIST, platform)
        assert response.status_code == 200
        body = response.json()
        assert body["next"] is None
        (item,) = body["items"]
        assert item["id"] == f"decision-{decision.pk}" and item["decision_id"] == decision.pk
        statement = item["statement"]
        assert statement["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
        assert statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        # What does not apply is left out, as the Transparency Database's API expects.
        assert (
            "decision_account" not in statement and "illegal_content_legal_ground" not in statement
        )
        assert None not in statement.values()

    def test_it_pages_with_the_next_cursor(self, client, platform, dsa_decide, dsa_bank_acts):
        for _ in range(3):
            dsa_decide()
            dsa_bank_acts()
        ids, cursor = [], None
        while True:
            params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
            body = get(client, LIST, platform, **params).json()
            ids += [i["id"] for i in body["items"]]
            cursor = body["next"]
            if cursor is None:
                break
        assert len(ids) == len(set(ids)) == 6

    def test_since_and_until_bound_the_decision_time(self, client, platform, dsa_decide):
        decision = dsa_decide()
        at = decision.created_at
        later = at.replace(year=at.year + 1).isoformat()
        assert len(get(client, LIST, platform, since=at.isoformat()).json()["items"]) == 1
        assert get(client, LIST, platform, since=later).json()["items"] == []
        assert get(client, LIST, platform, until=at.isoformat()).json()["items"] == []

    def test_a_page_costs_a_bounded_number_of_queries(
        self, client, platform, dsa_decide, dsa_bank_acts, django_assert_max_num_queries
    ):
        get(client, LIST, platform)  # the token is looked up once, then cached
        for _ in range(5):
            dsa_decide()
            dsa_bank_acts()
        with django_assert_max_num_queries(6):
            assert len(get(client, LIST, platform).json()["items"]) == 10


@pytest.mark.django_db
class TestOneDecision:
    def test_it_gives_the_statement_of_a_restricting_decision(self, client, platform, dsa_decide):
        decision = dsa_decide("suspend", "spam", "spam")
        response = get(client, f"/api/v1/decisions/{decision.pk}/statement-of-reasons", platform)
        assert response.status_code == 200
        assert response.json()["statement"]["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"

    def test_a_decision_restricting_nothing_is_404_json(self, client, platform, dsa_decide):
        decision = dsa_decide("no_violation", "harassment")
        for pk in (decision.pk, decision.pk + 1000):
            response = get(client, f"/api/v1/decisions/{pk}/statement-of-reasons", platform)
            assert response.status_code == 404
            assert response.json()["error"] == "not_found"


@pytest.mark.django_db
class TestWhoMayCall:
    @pytest.mark.parametrize(
        "role, status",
        [
            (Role.PLATFORM, 200),
            (Role.SUPERVISOR, 200),
            (Role.ADMIN, 200),
            (Role.REVIEWER, 403),
            (Role.SENIOR_REVIEWER, 403),
        ],
    )
    def test_the_platform_and_supervisors_read_statements_reviewers_do_not(
        self, client, make_user, dsa_decide, role, status
    ):
        decision = dsa_decide()
        headers = auth(token_for(make_user, username=f"caller-{role}", role=role))
        for url in (LIST, f"/api/v1/decisions/{decision.pk}/statement-of-reasons"):
            response = get(client, url, headers)
            assert response.status_code == status
            if status == 403:
                assert response.json()["error"] == "forbidden"

    def test_a_token_without_the_read_scope_is_refused(self, client, make_user):
        headers = auth(token_for(make_user, scopes=["report"]))
        assert get(client, LIST, headers).status_code == 403

    def test_no_token_is_401(self, client):
        response = client.get(LIST)
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"

    def test_a_supervisor_in_the_console_may_read_them(self, client, supervisor):
        client.force_login(supervisor)
        assert client.get(LIST).status_code == 200


@pytest.mark.django_db
class TestBadInput:
    @pytest.mark.parametrize(
        "params, status",
        [
            ({"since": "yesterday"}, 422),
            ({"until": "2026-13-40T00:00:00Z"}, 422),
            ({"since": "2026-11-01T00:00:00"}, 422),  # no time zone
            ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, 422),
            ({"limit": "0"}, 422),
            ({"limit": "100000"}, 422),
            ({"limit": "many"}, 422),
            ({"cursor": "not-a-cursor"}, 400),
            ({"cursor": "x" * 500}, 422),
        ],
    )
    def test_bad_parameters_are_4xx_json(self, client, platform, params, status):
        response = get(client, LIST, platform, **params)
        assert response.status_code == status
        assert response.json()["error"] in ("invalid_request", "bad_cursor")

    @pytest.mark.parametrize(
        "params",
        [{"until": "9999-12-31T23:00:00-12:00"}, {"since": "0001-01-01T00:00:00+05:00"}],
    )
    def test_times_at_the_ends_of_the_calendar_are_not_a_500(
        self, client, platform, dsa_decide, params
    ):
        # Both have no UTC equivalent; a period reaching that far covers every decision.
        dsa_decide()
        response = get(client, LIST, platform, **params)
        assert response.status_code == 200, response.content
        assert len(response.json()["items"]) == 1

    @pytest.mark.parametrize(
        "raw",
        [
            "0001-01-01T00:00:00+05:00|0|1",
            "9999-12-31T23:00:00-05:00|0|1",
            "2026-01-01T00:00:00+00:00|0|99999999999999999999999",
        ],
    )
    def test_a_cursor_made_up_by_hand_is_a_400_not_a_500(self, client, platform, dsa_decide, raw):
        dsa_decide()
        cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        response = get(client, LIST, platform, cursor=cursor)
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "bad_cursor"

    def test_a_non_numeric_decision_id_is_4xx_json(self, client, platform):
        response = get(client, "/api/v1/decisions/abc/statement-of-reasons", platform)
        assert 400 <= response.status_code < 500
        assert response.json()["error"]


@pytest.mark.django_db
def test_the_openapi_document_describes_both_calls(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "get" in paths[LIST]
    assert "get" in paths["/api/v1/decisions/{decision_id}/statement-of-reasons"]
