"""Fuzz the JSON API from its own OpenAPI document (schemathesis, in-process through the WSGI app).

Every operation in /api/v1/openapi.json gets valid and invalid requests (schemathesis's examples,
coverage and fuzzing phases; positive and negative modes), sent as real principals (an API token
of a platform account, one of a reviewer, and anonymous callers) against the real test database,
committing as in production. A response passes when:

- it is not a server error (bad input is a 4xx, never a 500);
- its status code, content type and body are the ones the document declares for the operation;
- every 4xx is JSON `{"error": <code>, "detail": ...}`.

The run is bounded (MAX_EXAMPLES generated requests per operation and principal, plus
schemathesis's deterministic coverage cases) and reproducible (derandomized Hypothesis, no example
database). A failure shows the request as a curl command and, for a 500, the server's traceback.
"""

import base64
import io
import struct
import traceback
import zlib

import pytest
import schemathesis
from django.core.signals import got_request_exception
from django.test import Client
from hypothesis import HealthCheck, settings
from PIL import Image

from accounts.roles import Role
from accounts.services import api_token_create
from config.wsgi import application
from moderation.cases import services as case_services
from moderation.cases.models import Queue
from reports.content import ContentFacts
from reports.models import Report
from reports.services import report_submit

MAX_EXAMPLES = 30

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",  # positive and negative
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,  # Hypothesis's derandomize: the same requests on every run
            "database": "none",  # no .hypothesis/ directory, no replay of earlier runs' failures
        },
        # Stateful runs need links between operations, which the document does not declare.
        "phases": {"stateful": {"enabled": False}},
    }
)

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=CONFIG)

# Tokens may make plenty of calls: the fuzzer is not the abuse the rate limit is for.
RATE_LIMIT = 1_000_000
PRINCIPALS = ["platform", "reviewer", "anonymous"]


def error_shape(ctx, response, case):
    """Every 4xx answer to a documented operation is JSON {"error": <code>, "detail": ...}.

    (Methods the document does not declare are test_unsupported_methods_answer_in_the_error_shape's.)
    """
    if case.method.upper() != case.operation.method.upper():
        return None
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(
            f"{response.status_code} is not JSON: {response.text[:200]!r}"
        ) from None
    if not (
        isinstance(body, dict)
        and isinstance(body.get("error"), str)
        and body["error"]
        and "detail" in body
    ):
        raise AssertionError(f"{response.status_code} is not the error shape: {body!r}")
    return None


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    error_shape,
]


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 80, 40)).save(out, format=fmt)
    return out.getvalue()


def _huge_png() -> bytes:
    """A real PNG whose header claims 50000 x 50000 pixels: refused before decoding."""
    data = bytearray(_image("PNG"))
    ihdr = data[16:29]
    ihdr[0:8] = struct.pack(">II", 50_000, 50_000)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


# Real files for the media fields (random strings are never images): accepted formats, one that
# is not accepted, and a decompression bomb header.
SAMPLE_IMAGES = [
    ("png", _image("PNG")),
    ("jpg", _image("JPEG")),
    ("gif", _image("GIF")),
    ("webp", _image("WEBP")),
    ("bmp", _image("BMP")),
    ("png", _huge_png()),
]


@pytest.fixture
def server_errors():
    """Tracebacks of the exceptions the app turned into 500s, to show with the failing request."""
    seen: list[str] = []

    def record(sender, request=None, **kwargs):
        seen.append(traceback.format_exc())

    got_request_exception.connect(record, weak=False)
    yield seen
    got_request_exception.disconnect(record)


@pytest.fixture
def world(make_user):
    """Real principals, and a few cases for them to find, read, claim and decide."""
    platform = make_user("fuzz-platform", Role.PLATFORM, queues=[])
    # Certified for every queue but child-safety, so "not certified for this queue" is reachable.
    reviewer = make_user(
        "fuzz-reviewer", Role.REVIEWER, queues=Queue.objects.exclude(slug="child-safety")
    )
    tokens = {
        name: api_token_create(user=user, name="fuzz", rate_limit_per_minute=RATE_LIMIT)[1]
        for name, user in (("platform", platform), ("reviewer", reviewer))
    }
    case_ids = []
    for i, category in enumerate(["harassment", "spam", "csam", "violent_extremism", "other"]):
        report = report_submit(
            category=category,
            reporter_kind=Report.ReporterKind.PLATFORM_USER,
            source=Report.Source.API,
            actor_label="api token fuzz (fuzz-platform)",
            content=ContentFacts(url=f"https://social.example/p/fuzz-{i}", platform_id=f"fuzz-{i}"),
        )
        case_ids.append(report.case_id)
    # The reviewer holds a case, so one decision can go through.
    held = case_services.case_claim_next(user=reviewer, queue=Queue.objects.get(slug="general"))
    assert held is not None
    return {
        "tokens": tokens,
        "case_ids": [held.pk] + [pk for pk in case_ids if pk != held.pk],
        "slugs": sorted(Queue.objects.filter(is_active=True).values_list("slug", flat=True)),
    }


def _pick(value: str, modulo: int) -> int:
    return zlib.crc32(value.encode("utf-8", "replace")) % modulo


def _aim_media(media):
    """Turn about half the generated media items into real, sometimes damaged, image files.

    Which file and which damage follow from the generated string, so the request stays a function
    of Hypothesis's input (and shrinks as such)."""
    if not isinstance(media, list):
        return
    for item in media:
        if not isinstance(item, dict) or not isinstance(item.get("data_base64"), str):
            continue
        seed = _pick(item["data_base64"], 1 << 30)
        if seed % 2:
            continue
        seed //= 2
        extension, data = SAMPLE_IMAGES[seed % len(SAMPLE_IMAGES)]
        seed //= len(SAMPLE_IMAGES)
        damage = seed % 4
        seed //= 4
        if damage == 1:  # truncated
            data = data[: seed % len(data)]
        elif damage == 2:  # one byte changed
            at = seed % len(data)
            data = data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :]
        item["data_base64"] = base64.b64encode(data).decode()
        if isinstance(item.get("filename"), str):
            # Mostly the right extension; sometimes another type's (a 415 "type mismatch").
            other = SAMPLE_IMAGES[(seed // 4) % len(SAMPLE_IMAGES)][0]
            item["filename"] = f"{item['filename'][:200]}.{other if damage == 3 else extension}"


# Characters that are valid in JSON but that no database text column takes: NUL (PostgreSQL
# refuses it) and an unpaired surrogate (not encodable as UTF-8). A client can send either.
NASTY = ["\x00", "\ud800"]


def _string_leaves(value, path=()):
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from _string_leaves(value[key], (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _string_leaves(item, (*path, i))


def _poison(case):
    """Put a NUL or an unpaired surrogate into one string of about a quarter of the bodies and
    slugs: random generation never makes the latter, and rarely the former."""
    body = case.body
    if isinstance(body, dict | list):
        seed = _pick(repr(body), 1 << 30)
        leaves = list(_string_leaves(body))
        if seed % 4 == 0 and leaves:
            seed //= 4
            *parents, last = leaves[seed % len(leaves)]
            target = body
            for key in parents:
                target = target[key]
            text = target[last]
            nasty = NASTY[(seed // len(leaves)) % len(NASTY)]
            target[last] = text[: len(text) // 2] + nasty + text[len(text) // 2 :]
    params = case.path_parameters or {}
    slug = params.get("slug")
    if isinstance(slug, str) and _pick(slug, 4) == 0:
        params["slug"] = slug + "\x00"


def _aim(case, world):
    """Point part of the generated input at things that exist, deterministically from the
    generated values: even case ids become real cases, slugs of even length real queues, half
    the media real images. The rest stays as generated (404s, 422s). Then some get poisoned."""
    params = case.path_parameters or {}
    case_id = params.get("case_id")
    if isinstance(case_id, int) and not isinstance(case_id, bool) and case_id % 2 == 0:
        ids = world["case_ids"]
        params["case_id"] = ids[(abs(case_id) // 2) % len(ids)]
    slug = params.get("slug")
    if isinstance(slug, str) and len(slug) % 2 == 0:
        slugs = world["slugs"]
        params["slug"] = slugs[(len(slug) // 2) % len(slugs)]
    _poison(case)
    body = case.body
    if isinstance(body, dict):
        _aim_media(body.get("media"))
        if isinstance(body.get("flags"), list):
            for flag in body["flags"]:
                if isinstance(flag, dict):
                    _aim_media(flag.get("media"))


# Transactional: every request commits as in production (on-commit jobs run too); conftest gives
# such tests a serialized rollback, which restores the data migrations' roles and queues.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("principal", PRINCIPALS)
@schema.parametrize()
@settings(
    deadline=None,
    # The fixtures (principals, seeded cases) are meant to be shared by every generated request.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_api_conforms_to_its_openapi_document(case, principal, world, server_errors):
    _aim(case, world)
    token = world["tokens"].get(principal)
    # Anonymous callers send whatever credentials schemathesis generates (or none): a 401.
    headers = {"Authorization": f"Bearer {token}"} if token else None
    server_errors.clear()
    try:
        case.call_and_validate(headers=headers, checks=CHECKS)
    except BaseException as e:
        for tb in server_errors:
            e.add_note(f"Server traceback:\n{tb}")
        raise


UNDECLARED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _undeclared_calls():
    for operation in schema.get_all_operations():
        operation = operation.ok()
        declared = {
            op.ok().method.upper()
            for op in schema.get_all_operations()
            if op.ok().path == operation.path
        }
        for method in UNDECLARED_METHODS:
            if method not in declared:
                yield method, operation.path


@pytest.mark.django_db
def test_unsupported_methods_answer_in_the_error_shape(make_user):
    """A method the document does not declare for a path is a 405 in the API's error shape."""
    token = api_token_create(user=make_user("fuzz-platform", Role.PLATFORM, queues=[]), name="f")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token[1]}")
    wrong = []
    for method, path in sorted(set(_undeclared_calls())):
        url = path.replace("{case_id}", "1").replace("{slug}", "general")
        r = client.generic(method, url)
        body = (
            r.json() if r.headers.get("Content-Type", "").startswith("application/json") else None
        )
        if r.status_code != 405 or not (
            isinstance(body, dict) and {"error", "detail"} <= set(body)
        ):
            wrong.append(
                f"{method} {url}: {r.status_code} {r.headers.get('Content-Type')} {r.content[:60]!r}"
            )
    assert not wrong, "\n".join(wrong)
