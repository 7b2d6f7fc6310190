"""The JSON API under /api/v1/ (django-ninja): authentication, scopes, rate limits, error shape.

Every error is JSON `{"error": <code>, "detail": ...}` with a 4xx status; bad input never
produces a 500.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from accounts.models import TOKEN_PREFIX, ApiToken, hash_token
from accounts.roles import scopes_allowed
from lib.ratelimit import hit

logger = logging.getLogger(__name__)

# last_used_at is for people ("is this token still in use?"): a minute's precision is plenty and
# spares a write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


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
    token: ApiToken | None = None
    via: str = field(default="token")

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"api token {self.token.name} ({self.user.get_username()})"
        return self.user.get_username()


# Who a token is, cached briefly in each process: every API call authenticates, and a token's row,
# its user and the user's permissions cost three queries. Revoking a token, deactivating its user
# or changing their role reaches every process within this many seconds (at once in the process
# that made the change).
PRINCIPAL_CACHE_SECONDS = 10.0
_principals: dict[str, tuple[float, "Principal"]] = {}


def forget_principals() -> None:
    _principals.clear()


def _load_principal(token: str) -> Principal | None:
    lookup = token[len(TOKEN_PREFIX) :].split("_", 1)[0]
    api_token = ApiToken.objects.active().select_related("user").filter(lookup=lookup).first()
    if api_token is None or not api_token.matches(token):
        return None
    # A token never does more than its user's role allows now, whatever it was created with.
    scopes = frozenset(api_token.scopes) & frozenset(scopes_allowed(api_token.user))
    return Principal(user=api_token.user, scopes=scopes, token=api_token)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        key = hash_token(token)
        now_mono = time.monotonic()
        cached = _principals.get(key)
        if cached is not None and cached[0] > now_mono:
            principal = cached[1]
        else:
            principal = _load_principal(token)
            if principal is None:
                _principals.pop(key, None)
                return None
            if len(_principals) > 10_000:
                _principals.clear()
            _principals[key] = (now_mono + PRINCIPAL_CACHE_SECONDS, principal)
        api_token = principal.token
        if wait := hit(f"api-token:{api_token.pk}", limit=api_token.rate_limit_per_minute):
            raise ApiError(
                429,
                "rate_limited",
                f"This token may make {api_token.rate_limit_per_minute} requests a minute.",
                {"Retry-After": str(wait)},
            )
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
            api_token.last_used_at = now
        return principal


class ConsoleSession(APIKeyCookie):
    """The console's own calls, with the browser session (and Django's CSRF check)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # No session cookie, no session to protect: skip the CSRF check so a caller without a
        # token gets the 401 that says what is missing, not a confusing CSRF 403.
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Principal | None:
        if request.user.is_authenticated:
            return Principal(
                user=request.user, scopes=frozenset(scopes_allowed(request.user)), via="session"
            )
        return None


api = NinjaAPI(
    title="Vigil API",
    version="1",
    description="Reports, flags and review data for the platform Vigil serves. "
    "Authenticate with `Authorization: Bearer <token>`; tokens are created with "
    "`manage.py create_api_token` or by an administrator.",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=[BearerToken(), ConsoleSession()],
)


def require_scope(request: HttpRequest, scope: str) -> Principal:
    principal: Principal = request.auth
    if scope not in principal.scopes:
        raise ApiError(403, "forbidden", f"This call needs the '{scope}' scope.")
    return principal


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


def _routes():
    # Imported here: the routers import require_scope and ApiError from this module.
    from moderation.banks.api import router as bank_router
    from moderation.dsa.api import router as dsa_router
    from moderation.escalations.api import router as escalation_router
    from moderation.review.api import router as moderation_router
    from moderation.review.appeals_api import router as appeal_router
    from reports.api import router as reports_router

    api.add_router("/", reports_router)
    api.add_router("/", moderation_router)
    api.add_router("/", bank_router)
    api.add_router("/", appeal_router)
    api.add_router("/", escalation_router)
    api.add_router("/", dsa_router)


_routes()
