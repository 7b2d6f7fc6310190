"""The JSON API's plumbing, shared by every domain's router (django-ninja).

Every error is JSON `{"error": <code>, "detail": ...}` with a 4xx status; bad input never
produces a 500. `config/api.py` assembles the API: who may call it (accounts/api.py) and each
domain's router; the handlers here give every error that shape.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from lib.text import one_line_name, storable_text


class ErrorOut(Schema):
    error: str
    detail: Any


# Every status an operation may answer with besides success: bad JSON, no or wrong credentials,
# unknown objects, a lost case, too large, unsupported media, invalid input, too many requests.
ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 409, 413, 415, 422, 429)}


class ApiError(Exception):
    """An error with its status, code and detail, rendered in the API's error shape."""

    def __init__(self, status: int, error: str, detail, headers: dict | None = None):
        super().__init__(error)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers or {}


@dataclass
class Principal:
    """Who is calling: a user, and the scopes this call may use."""

    user: object
    scopes: frozenset[str]
    token: Any = None  # the ApiToken, for calls made with one
    via: str = field(default="token")

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"api token {self.token.name} ({self.user.get_username()})"
        return self.user.get_username()


def require_scope(request: HttpRequest, scope: str) -> Principal:
    principal: Principal = request.auth
    if scope not in principal.scopes:
        raise ApiError(403, "forbidden", f"This call needs the '{scope}' scope.")
    return principal


# Shared field types: strict where pydantic would coerce, so a platform's bug shows as a 422.


def strict_str(value: Any) -> Any:
    # Pydantic would turn 123 into "123"; a platform sending a number where a string belongs has a
    # bug worth hearing about.
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return storable_text(value)


def strict_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


def strict_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def _iso_string(value: Any) -> Any:
    # Pydantic would also take a Unix timestamp; a number is ambiguous (seconds? milliseconds?)
    # where the authority needs an exact time, so only ISO 8601 text with a time zone is accepted.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time with a time zone, as a string")
    return value


def _in_utc(value: datetime) -> datetime:
    # Stored (and sent to the authority) in UTC: 0001-01-01T00:00+05:00 has no UTC time.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a time between the years 1 and 9999 in UTC") from None


# ISO 8601 with an explicit offset or Z, e.g. 2026-11-20T14:03:00Z.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_in_utc)]


def Text(max_length: int, min_length: int = 0, **kwargs):  # noqa: N802 - a type factory
    return Annotated[
        str,
        BeforeValidator(strict_str),
        Field(min_length=min_length, max_length=max_length, **kwargs),
    ]


def Name(max_length: int, min_length: int = 0, **kwargs):  # noqa: N802 - a type factory
    """An id, handle or name: Text on one line (no control characters)."""
    return Annotated[Text(max_length, min_length, **kwargs), AfterValidator(one_line_name)]


def install_error_handlers(api: NinjaAPI) -> None:
    """Give every error `api` can raise the API's error shape."""

    def error(request, status: int, code: str, detail, headers: dict | None = None):
        response = api.create_response(request, {"error": code, "detail": detail}, status=status)
        for name, value in (headers or {}).items():
            response[name] = value
        return response

    @api.exception_handler(ApiError)
    def on_api_error(request, exc: ApiError):
        return error(request, exc.status, exc.error, exc.detail, exc.headers)

    @api.exception_handler(ValidationError)
    def on_validation_error(request, exc: ValidationError):
        errors = exc.errors
        if any(e.get("type") == "json_invalid" for e in errors if isinstance(e, dict)):
            return error(request, 400, "malformed_json", "The request body is not valid JSON.")
        detail = [
            {
                # ninja puts "body" and the parameter name first; people want the field's path.
                "loc": [str(p) for p in e.get("loc", ())][2:] or [str(p) for p in e.get("loc", ())],
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in errors
        ]
        return error(request, 422, "invalid_request", detail)

    @api.exception_handler(AuthenticationError)
    def on_unauthenticated(request, exc):
        return error(
            request,
            401,
            "unauthorized",
            "Send a valid token: Authorization: Bearer <token>.",
            {"WWW-Authenticate": 'Bearer realm="vigil"'},
        )

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request, exc):
        return error(request, 413, "request_too_large", "The request body is too large.")

    @api.exception_handler(HttpError)
    def on_http_error(request, exc: HttpError):
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            # django-ninja's "Cannot parse request body": the JSON itself is broken.
            return error(request, 400, "malformed_json", "The request body is not valid JSON.")
        codes = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "request_too_large",
            415: "unsupported_media_type",
            422: "invalid_request",
            429: "rate_limited",
        }
        return error(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))
