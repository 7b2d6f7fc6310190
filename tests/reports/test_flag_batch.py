"""`POST /api/v1/flags/batch`: one result per flag, a bad flag is its own error, each flag all or
nothing, idempotent, and a number of queries that does not grow with the batch."""

import json
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from moderation.audit.models import AuditEvent
from moderation.cases.models import Case
from reports.batch import NOT_STORED, FlagIntake, FlagStored, flag_submit_batch
from reports.content import ContentFacts
from reports.models import ContentItem, Flag, Media
from reports.services import flag_submit
from tests.api_helpers import auth, b64, flag_payload, token_for
from tests.conftest import png_bytes
from tests.reports.test_api_errors import bomb_png

URL = "/api/v1/flags/batch"


def post(client, token, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **auth(token))


def flag(n, item=None, **overrides):
    item = item or f"post-{n}"
    fields = {
        "external_id": f"e{n}",
        "category": "spam",
        "content": {"id": item, "url": f"https://social.example/{item}"},
    }
    return flag_payload(**{**fields, **overrides})


@pytest.fixture
def token(make_user):
    return token_for(make_user)


@pytest.mark.django_db
class TestPerFlagResults:
    def test_it_answers_each_flag_in_its_place_with_the_stored_flag_or_its_error(
        self, client, token
    ):
        flags = [
            flag(0),
            {**flag(1), "score": 2},
            42,
            {**flag(3), "content": {"url": "https://social.example/x"}},
            {**flag(4), "media": [{"filename": "a.png", "data_base64": "@@@"}]},
            {**flag(5), "media": [{"filename": "a.jpg", "data_base64": b64(png_bytes())}]},
            {**flag(6), "media": [{"filename": "a.png", "data_base64": b64(bomb_png())}]},
            flag(7, media=[{"filename": "a.png", "data_base64": b64(png_bytes())}]),
        ]
        r = post(client, token, {"flags": flags})
        assert r.status_code == 200, r.content
        results = r.json()["results"]
        assert len(results) == len(flags)
        stored = {i: Flag.objects.get(external_id=f"e{i}") for i in (0, 7)}
        for i, f in stored.items():
            assert results[i] == {"flag_id": f.pk, "case_id": f.case_id, "created": True}
        assert results[1] == {
            "error": "invalid_request",
            "status": 422,
            "detail": [
                {
                    "loc": ["flags", "1", "score"],
                    "msg": "Input should be less than or equal to 1",
                    "type": "less_than_equal",
                }
            ],
        }
        # Not an object: every required field missing, as the single endpoint says of a 42.
        assert results[2]["error"] == "invalid_request"
        assert [d["loc"] for d in results[2]["detail"]][:2] == [
            ["flags", "2", "content"],
            ["flags", "2", "category"],
        ]
        assert results[3]["detail"][0]["loc"] == ["flags", "3", "content", "id"]
        assert results[4] == {
            "error": "invalid_media",
            "status": 422,
            "detail": {"loc": ["flags", "4", "media", 0, "data_base64"], "msg": "not valid base64"},
        }
        assert (results[5]["error"], results[5]["status"]) == ("media_type_mismatch", 415)
        assert results[5]["detail"]["loc"] == ["flags", "5", "media", 0, "filename"]
        assert (results[6]["error"], results[6]["status"]) == ("image_too_large", 413)
        # A refused flag wrote nothing: no flag, content item, case or media of its own.
        assert Flag.objects.count() == 2 and Case.objects.count() == 2
        assert ContentItem.objects.count() == 2 and Media.objects.count() == 1

    def test_each_error_is_what_the_single_endpoint_answers_for_that_flag(self, client, token):
        bad = [
            {**flag(1), "score": "0.5"},
            {**flag(2), "media": [{"filename": "a.png", "data_base64": b64(b"junk")}]},
        ]
        results = post(client, token, {"flags": bad}).json()["results"]
        for i, (f, result) in enumerate(zip(bad, results, strict=True)):
            alone = client.post(
                "/api/v1/flags", data=json.dumps(f), content_type="application/json", **auth(token)
            )
            assert alone.status_code == result["status"]
            assert alone.json()["error"] == result["error"]
            single_detail = alone.json()["detail"]
            if isinstance(single_detail, list):
                single_detail = [{**d, "loc": ["flags", str(i), *d["loc"]]} for d in single_detail]
            else:
                single_detail = {**single_detail, "loc": ["flags", str(i), *single_detail["loc"]]}
            assert result["detail"] == single_detail

    def test_a_flag_sent_twice_in_a_batch_is_stored_once(self, client, token):
        results = post(client, token, {"flags": [flag(1), flag(2), flag(1, item="other")]}).json()[
            "results"
        ]
        assert results[2] == {**results[0], "created": False}
        assert Flag.objects.count() == 2 and ContentItem.objects.count() == 2

    def test_a_retried_batch_answers_alike_and_writes_nothing_new(self, client, token):
        flags = [flag(1), {**flag(2), "score": -1}, flag(3, item="post-1"), flag(4)]
        first = post(client, token, {"flags": flags}).json()["results"]
        events, cases = AuditEvent.objects.count(), list(Case.objects.values())
        again = post(client, token, {"flags": flags}).json()["results"]
        assert again[1] == first[1]
        for before, after in zip(first[::2] + first[3:], again[::2] + again[3:], strict=True):
            assert after == {**before, "created": False}
        assert AuditEvent.objects.count() == events
        assert list(Case.objects.values()) == cases

    def test_flags_about_one_item_roll_up_into_its_case(self, client, token):
        flags = [flag(i, item="same", category=c) for i, c in enumerate(["spam", "harassment"])]
        results = post(client, token, {"flags": flags}).json()["results"]
        assert results[0]["case_id"] == results[1]["case_id"]
        case = Case.objects.get()
        assert (case.flags_count, case.category) == (2, "harassment")
        assert [e.after["case"] for e in AuditEvent.objects.filter(verb="flag.received")] == [
            "joined",
            "opened",
        ]


@pytest.mark.django_db
class TestWholeRequestErrors:
    def test_no_token_gets_401_and_a_report_scope_403(self, client, make_user):
        body = json.dumps({"flags": [flag(1)]})
        r = client.post(URL, data=body, content_type="application/json")
        assert r.status_code == 401
        report_only = token_for(make_user, username="reporter", scopes=["report"])
        assert post(client, report_only, body).status_code == 403

    @pytest.mark.parametrize(
        "body, status, error",
        [
            ('{"flags": [', 400, "malformed_json"),
            ({"flags": []}, 422, "invalid_request"),
            ({"flags": {"a": 1}}, 422, "invalid_request"),
            ({}, 422, "invalid_request"),
        ],
    )
    def test_a_body_that_is_not_a_batch_gets_4xx(self, client, token, body, status, error):
        r = post(client, token, body)
        assert (r.status_code, r.json()["error"]) == (status, error)

    def test_more_than_500_flags_get_422_and_nothing_is_written(self, client, token):
        r = post(client, token, {"flags": [flag(i) for i in range(501)]})
        assert r.status_code == 422
        assert r.json()["detail"][0]["type"] == "too_long"
        assert Flag.objects.count() == 0

    def test_a_body_over_the_size_limit_gets_413(self, client, token, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
        r = post(client, token, {"flags": [flag(i) for i in range(20)]})
        assert (r.status_code, r.json()["error"]) == (413, "request_too_large")
        assert Flag.objects.count() == 0


@pytest.mark.django_db
def test_the_openapi_document_describes_each_result(client):
    doc = client.get("/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    # Each flag is documented as POST /api/v1/flags takes it, though checked on its own.
    assert schemas["FlagBatchIn"]["properties"]["flags"]["items"] == schemas["FlagIn"]
    results = schemas["FlagBatchOut"]["properties"]["results"]
    assert results["items"]["anyOf"] == [
        {"$ref": "#/components/schemas/FlagOut"},
        {"$ref": "#/components/schemas/FlagErrorOut"},
    ]
    assert results["description"]
    for name in ("error", "status", "detail"):
        assert schemas["FlagErrorOut"]["properties"][name]["description"]


@pytest.mark.django_db
class TestWriteTimeFailure:
    def test_a_flag_the_database_refuses_costs_only_itself(self, make_user):
        # The API never lets a score of 1.5 through; the service alone meets the constraint.
        flags = [
            FlagIntake(
                source="clf",
                external_id=f"e{i}",
                category="spam",
                score=1.5 if i == 1 else 0.5,
                content=ContentFacts(platform_id=f"post-{i}"),
            )
            for i in range(3)
        ]
        results = flag_submit_batch(flags=flags)
        assert results[1] == NOT_STORED
        assert all(isinstance(r, FlagStored) and r.created for r in (results[0], results[2]))
        assert not ContentItem.objects.filter(platform_id="post-1").exists()
        assert Case.objects.count() == 2
        assert AuditEvent.objects.filter(verb="flag.received").count() == 2


def _queries_for(client, token, n: int, prefix: str, image: str) -> int:
    """Queries of one batch of n flags: new items, flags joining open cases, flags already
    stored, repeats within the batch and flags with an image, in equal shares."""
    for i in range(n):
        if i % 5 == 1:
            flag_submit(
                source="clf",
                external_id=f"{prefix}-pre-{i}",
                category="spam",
                score=0.3,
                content=ContentFacts(platform_id=f"{prefix}-open-{i}"),
            )
        if i % 5 == 2:
            flag_submit(
                source="clf",
                external_id=f"{prefix}-{i}",
                category="spam",
                score=0.3,
                content=ContentFacts(platform_id=f"{prefix}-old-{i}"),
            )
    flags = []
    for i in range(n):
        item = {1: f"{prefix}-open-{i}", 2: f"{prefix}-old-{i}"}.get(i % 5, f"{prefix}-{i}")
        external_id = f"{prefix}-{i - 1}" if i % 5 == 3 else f"{prefix}-{i}"
        media = [{"filename": "a.png", "data_base64": image}] if i % 5 == 4 else []
        flags.append(
            flag_payload(
                source="clf",
                external_id=external_id,
                category="harassment",
                content={"id": item},
                media=media,
            )
        )
    with CaptureQueriesContext(connection) as ctx:
        r = post(client, token, {"flags": flags})
    assert r.status_code == 200
    assert all("flag_id" in x for x in r.json()["results"])
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_the_queries_of_a_batch_do_not_grow_with_its_size(client, token):
    image = b64(png_bytes())
    post(client, token, {"flags": [flag(0)]})  # the token's first use is recorded once
    ten = _queries_for(client, token, 10, "ten", image)
    hundred = _queries_for(client, token, 100, "hundred", image)
    if connection.vendor == "postgresql":
        assert hundred == ten
    else:
        # SQLite takes at most 999 parameters a statement, so Django splits the larger INSERTs
        # and UPDATEs of the 100 into a few statements each.
        assert hundred <= ten + 12
    assert ten <= 40


@pytest.mark.django_db(transaction=True)
def test_a_flag_stored_at_the_same_moment_elsewhere_is_answered_as_already_stored():
    """Another transaction stores one of the batch's flags after the batch looked for it: the
    batch's insert fails, and the batch is stored one flag at a time, that one answered with the
    other's ids."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one writer at a time: nothing can store a flag mid-batch")
    other, _ = flag_submit(
        source="clf", external_id="x", category="spam", score=0.1, content=ContentFacts("else")
    )
    ready, done = threading.Event(), threading.Event()
    racer = {}

    def race():
        from django.db import connections

        try:
            with transaction.atomic():
                racer["flag"] = Flag.objects.create(
                    content_item_id=other.content_item_id,
                    case_id=other.case_id,
                    source="clf",
                    external_id="e1",
                    category="spam",
                    score=0.2,
                )
                ready.set()
                # Held open until the batch waits on it, then committed.
                done.wait(2)
        finally:
            connections.close_all()

    thread = threading.Thread(target=race)
    thread.start()
    assert ready.wait(10)
    threading.Timer(0.5, done.set).start()
    flags = [
        FlagIntake(
            source="clf",
            external_id=f"e{i}",
            category="spam",
            score=0.5,
            content=ContentFacts(platform_id=f"post-{i}"),
        )
        for i in range(3)
    ]
    results = flag_submit_batch(flags=flags)
    thread.join()
    assert results[1] == FlagStored(racer["flag"].pk, other.case_id, False)
    assert all(r.created for r in (results[0], results[2]))
    assert Flag.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_flag_held_up_by_another_writer_costs_only_itself():
    """A flag whose case another transaction keeps locked past the lock timeout (as a deadlock or
    a long decision would) is answered "not stored"; the rest of the batch is stored."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one writer at a time: no lock to wait for")
    held, _ = flag_submit(
        source="clf", external_id="held", category="spam", score=0.1, content=ContentFacts("busy")
    )
    locked, release = threading.Event(), threading.Event()

    def hold_the_case():
        from django.db import connections

        try:
            with transaction.atomic():
                Case.objects.select_for_update().get(pk=held.case_id)
                locked.set()
                release.wait(20)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_case)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        flags = [
            FlagIntake(
                source="clf",
                external_id=f"e{i}",
                category="spam",
                score=0.5,
                content=ContentFacts(platform_id=item),
            )
            for i, item in enumerate(["busy", "free-1", "free-2"])
        ]
        results = flag_submit_batch(flags=flags)
    finally:
        release.set()
        holder.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert results[0] == NOT_STORED
    assert all(isinstance(r, FlagStored) and r.created for r in results[1:])
    assert not Flag.objects.filter(external_id="e0").exists()
    assert Flag.objects.filter(external_id__in=["e1", "e2"]).count() == 2
