"""Bad input gets a clear 4xx in the API's error shape, never a 500, and writes nothing."""

import io
import json

import pytest
from PIL import Image

from reports.models import ContentItem, Flag, Media, Report
from tests.api_helpers import auth, b64, flag_payload, report_payload, token_for
from tests.conftest import png_bytes


@pytest.fixture
def token(make_user):
    return token_for(make_user)


def post(client, token, body, url="/api/v1/reports", content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, content_type=content_type, **auth(token))


def assert_nothing_written():
    assert Report.objects.count() == Flag.objects.count() == Media.objects.count() == 0
    assert ContentItem.objects.count() == 0


def bomb_png() -> bytes:
    # Tiny on disk, enormous in memory: 10,000 x 10,000 pixels of one colour.
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def media(data: bytes, filename="x.png"):
    return [{"filename": filename, "data_base64": b64(data)}]


@pytest.mark.django_db
class TestApiErrors:
    def test_malformed_json(self, client, token):
        r = post(client, token, '{"content": ')
        assert r.status_code == 400
        assert r.json()["error"] == "malformed_json"
        assert_nothing_written()

    @pytest.mark.parametrize(
        "overrides, field",
        [
            ({"category": "nonsense"}, "category"),
            ({"category": 7}, "category"),
            ({"involves_child": "yes"}, "involves_child"),
            ({"content": {"id": 123}}, "content"),
            ({"content": {"url": "https://a.example/x"}}, "content"),
            ({"content": {"id": "p", "url": "javascript:alert(1)"}}, "content"),
            ({"description": "x" * 5001}, "description"),
            ({"media": [{"filename": "a.png"}]}, "media"),
            # A malformed address is accepted without it (test_reporter_email_malformed.py);
            # a number where the address belongs is the platform's bug.
            ({"reporter": {"email": 7}}, "reporter"),
            ({"reporter": {"notify": "yes"}}, "reporter"),
            ({"reporter": {"ip": "999.1.1.1"}}, "reporter"),
        ],
    )
    def test_invalid_fields_get_422_naming_the_field(self, client, token, overrides, field):
        r = post(client, token, report_payload(**overrides))
        assert r.status_code == 422, r.content
        body = r.json()
        assert body["error"] == "invalid_request"
        assert any(d["loc"][0] == field for d in body["detail"]), body
        assert_nothing_written()

    def test_missing_content_gets_422(self, client, token):
        payload = report_payload()
        del payload["content"]
        r = post(client, token, payload)
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["content"]

    def test_a_body_that_is_not_an_object_gets_422(self, client, token):
        assert post(client, token, "[1, 2]").status_code == 422

    def test_too_many_media(self, client, token):
        r = post(client, token, report_payload(media=media(png_bytes()) * 11))
        assert r.status_code == 422
        assert_nothing_written()

    def test_an_oversized_file_gets_413(self, client, token, settings):
        settings.MAX_UPLOAD_BYTES = 100
        r = post(client, token, report_payload(media=media(png_bytes(size=(200, 200)))))
        assert r.status_code in (413, 422)  # 422 when even the base64 text is over its limit
        assert_nothing_written()

    def test_an_oversized_request_body_gets_413(self, client, token, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
        r = post(client, token, report_payload(description="x" * 2000))
        assert r.status_code == 413
        assert r.json()["error"] == "request_too_large"

    def test_a_file_that_is_neither_an_image_nor_a_video_gets_415(self, client, token):
        r = post(
            client, token, report_payload(media=media(b"%PDF-1.4 definitely not an image", "a.png"))
        )
        assert r.status_code == 415
        assert r.json() == {
            "error": "not_an_image",
            "detail": {
                "loc": ["media", 0],
                "msg": "a.png: not an image or a video (JPEG, PNG, GIF or WebP; MP4, MOV, WebM, "
                "MKV or AVI expected).",
            },
        }
        assert_nothing_written()

    def test_a_truncated_image_gets_422(self, client, token):
        truncated = png_bytes(size=(300, 300), colour=(1, 2, 3))[:150]
        r = post(client, token, report_payload(media=media(truncated)))
        assert r.status_code == 422
        assert r.json()["error"] == "corrupt_image"
        assert_nothing_written()

    def test_a_decompression_bomb_gets_413(self, client, token):
        r = post(client, token, report_payload(media=media(bomb_png())))
        assert r.status_code == 413
        assert r.json()["error"] == "image_too_large"
        assert_nothing_written()

    def test_an_image_with_a_misleading_extension_gets_415(self, client, token):
        r = post(client, token, report_payload(media=media(png_bytes(), "holiday.jpg")))
        assert r.status_code == 415
        assert r.json()["error"] == "media_type_mismatch"
        assert "image/png" in r.json()["detail"]["msg"]
        assert_nothing_written()

    def test_an_unsupported_image_format_gets_415(self, client, token):
        out = io.BytesIO()
        Image.new("RGB", (8, 8)).save(out, format="BMP")
        r = post(client, token, report_payload(media=media(out.getvalue(), "a.bmp")))
        assert r.status_code == 415
        assert r.json()["error"] == "unsupported_image_type"

    def test_invalid_base64_gets_422(self, client, token):
        r = post(
            client,
            token,
            report_payload(media=[{"filename": "a.png", "data_base64": "@@@not base64@@@"}]),
        )
        assert r.status_code == 422
        assert r.json()["error"] == "invalid_media"

    def test_a_bad_image_in_a_batch_is_that_flags_error_alone(self, client, token):
        flags = [flag_payload(external_id=f"e{i}", media=[]) for i in range(3)]
        flags[2]["media"] = media(b"junk")
        r = post(client, token, {"flags": flags}, url="/api/v1/flags/batch")
        assert r.status_code == 200
        results = r.json()["results"]
        assert results[2] == {
            "error": "not_an_image",
            "status": 415,
            "detail": {
                "loc": ["flags", "2", "media", 0],
                "msg": "x.png: not an image or a video (JPEG, PNG, GIF or WebP; MP4, MOV, "
                "WebM, MKV or AVI expected).",
            },
        }
        assert [x["created"] for x in results[:2]] == [True, True]
        assert Flag.objects.count() == 2 and Media.objects.count() == 0

    def test_no_token_gets_401(self, client):
        r = client.post(
            "/api/v1/reports", data=json.dumps(report_payload()), content_type="application/json"
        )
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"

    def test_a_wrong_method_gets_405(self, client, token):
        r = client.get("/api/v1/reports", **auth(token))
        assert r.status_code == 405

    def test_an_unknown_case_gets_404_in_the_error_shape(self, client, token):
        r = client.get("/api/v1/cases/987654", **auth(token))
        assert r.status_code == 404
        assert r.json()["error"] == "not_found"


@pytest.mark.django_db
class TestUnstorableText:
    @pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
    def test_nul_and_lone_surrogates_get_422(self, client, token, text):
        payload = report_payload(media=[], description=text)
        payload["content"]["owner_handle"] = text
        r = client.post(
            "/api/v1/reports",
            data=json.dumps(payload),  # JSON escapes both, as a platform's encoder would
            content_type="application/json",
            **auth(token),
        )
        assert r.status_code == 422
        assert_nothing_written()

    def test_an_unknown_api_path_and_method_answer_in_the_error_shape(self, client, token):
        r = client.delete("/api/v1/reports", **auth(token))
        assert r.status_code == 405
        assert r.json()["error"] == "method_not_allowed"
        assert "POST" in r["Allow"]
        r = client.get("/api/v1/nothing-here", **auth(token))
        assert r.status_code == 404
        assert r.json()["error"] == "not_found"

    def test_a_post_without_a_token_is_401_not_a_csrf_403(self, client):
        r = client.post("/api/v1/reports", data="{}", content_type="application/json")
        assert r.status_code == 401
        assert r["WWW-Authenticate"].startswith("Bearer")
