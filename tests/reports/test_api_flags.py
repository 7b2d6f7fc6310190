import json

import pytest

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from reports.models import Flag
from tests.api_helpers import auth, flag_payload, token_for


def post(client, token, payload, url="/api/v1/flags"):
    return client.post(
        url, data=json.dumps(payload), content_type="application/json", **auth(token)
    )


@pytest.mark.django_db
class TestPostFlag:
    def test_it_creates_a_flag_in_the_items_case(self, client, make_user):
        token = token_for(make_user)
        r = post(client, token, flag_payload())
        assert r.status_code == 201, r.content
        flag = Flag.objects.get()
        assert r.json() == {"flag_id": flag.pk, "case_id": flag.case_id, "created": True}
        assert flag.score == 0.97 and flag.model_version == "2026.11"
        case = Case.objects.get()
        assert case.flags_count == 1
        assert {"label": "classifier score 0.97", "points": 97} in case.priority_breakdown
        assert AuditEvent.objects.filter(verb="flag.received", case=case).exists()

    def test_sending_the_same_flag_again_returns_200_with_the_same_ids_and_creates_nothing(
        self, client, make_user
    ):
        token = token_for(make_user)
        first = post(client, token, flag_payload()).json()
        events = AuditEvent.objects.count()
        again = post(client, token, flag_payload(score=0.1, category="spam"))
        assert again.status_code == 200
        assert again.json() == {**first, "created": False}
        assert Flag.objects.count() == 1 and Flag.objects.get().score == 0.97
        assert AuditEvent.objects.count() == events

    def test_the_same_external_id_from_another_source_is_another_flag(self, client, make_user):
        token = token_for(make_user)
        post(client, token, flag_payload())
        r = post(client, token, flag_payload(source="hash-matcher"))
        assert r.status_code == 201
        assert Case.objects.get().flags_count == 2

    @pytest.mark.parametrize("score", [-0.1, 1.5, "0.5", True, None])
    def test_a_score_outside_0_1_or_not_a_number_gets_422(self, client, make_user, score):
        token = token_for(make_user)
        r = post(client, token, flag_payload(score=score))
        assert r.status_code == 422
        assert Flag.objects.count() == 0

    def test_an_integer_score_is_a_number(self, client, make_user):
        token = token_for(make_user)
        assert post(client, token, flag_payload(score=1)).status_code == 201

    def test_a_report_scoped_token_cannot_flag(self, client, make_user):
        token = token_for(make_user, scopes=["report"])
        assert post(client, token, flag_payload()).status_code == 403


@pytest.mark.django_db
class TestPostFlagBatch:
    def test_it_stores_every_flag_and_reports_each_result(self, client, make_user):
        token = token_for(make_user)
        flags = [
            flag_payload(external_id=f"e{i}", content={"id": f"post-{i % 3}"}) for i in range(9)
        ]
        r = post(client, token, {"flags": flags}, url="/api/v1/flags/batch")
        assert r.status_code == 200, r.content
        results = r.json()["results"]
        assert len(results) == 9 and all(x["created"] for x in results)
        assert Flag.objects.count() == 9
        assert Case.objects.count() == 3
        assert sorted(Case.objects.values_list("flags_count", flat=True)) == [3, 3, 3]

    def test_a_retried_batch_creates_nothing_new(self, client, make_user):
        token = token_for(make_user)
        flags = [flag_payload(external_id=f"e{i}") for i in range(5)]
        first = post(client, token, {"flags": flags}, url="/api/v1/flags/batch").json()["results"]
        again = post(client, token, {"flags": flags}, url="/api/v1/flags/batch").json()["results"]
        assert [x["flag_id"] for x in again] == [x["flag_id"] for x in first]
        assert not any(x["created"] for x in again)
        assert Flag.objects.count() == 5

    def test_it_takes_500_and_refuses_501(self, client, make_user):
        token = token_for(make_user)
        flags = [flag_payload(external_id=f"e{i}") for i in range(501)]
        r = post(client, token, {"flags": flags}, url="/api/v1/flags/batch")
        assert r.status_code == 422
        assert Flag.objects.count() == 0
        r = post(client, token, {"flags": flags[:500]}, url="/api/v1/flags/batch")
        assert r.status_code == 200
        assert Flag.objects.count() == 500

    def test_an_invalid_flag_is_refused_in_its_place_and_the_others_are_stored(
        self, client, make_user
    ):
        token = token_for(make_user)
        flags = [flag_payload(external_id=f"e{i}") for i in range(4)]
        flags[3]["score"] = 2
        r = post(client, token, {"flags": flags}, url="/api/v1/flags/batch")
        assert r.status_code == 200
        results = r.json()["results"]
        assert results[3]["error"] == "invalid_request" and results[3]["status"] == 422
        assert results[3]["detail"][0]["loc"] == ["flags", "3", "score"]
        assert Flag.objects.count() == 3

    def test_an_empty_batch_gets_422(self, client, make_user):
        token = token_for(make_user)
        assert post(client, token, {"flags": []}, url="/api/v1/flags/batch").status_code == 422
