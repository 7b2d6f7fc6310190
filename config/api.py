"""The JSON API under /api/v1/ (django-ninja): authentication, scopes, rate limits, error shape.

Every error is JSON `{"error": <code>, "detail": ...}` with a 4xx status; bad input never
produces a 500.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from accounts.models import TOKEN_PREFIX, ApiToken
from accounts.roles import scopes_allowed
from lib.ratelimit import hit

logger = logging.getLogger(__name__)

# last_used_at is for people ("is this token still in use?"): a minute's precision is plenty and
# spares a write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


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


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        lookup = token[len(TOKEN_PREFIX) :].split("_", 1)[0]
        api_token = ApiToken.objects.active().select_related("user").filter(lookup=lookup).first()
        if api_token is None or not api_token.matches(token):
            return None
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
        # A token never does more than its user's role allows now, whatever it was created with.
        scopes = frozenset(api_token.scopes) & frozenset(scopes_allowed(api_token.user))
        return Principal(user=api_token.user, scopes=scopes, token=api_token)


class ConsoleSession(APIKeyCookie):
    """The console's own calls, with the browser session (and Django's CSRF check)."""

    param_name = "sessionid"

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
    from moderation.api import router as moderation_router
    from reports.api import router as reports_router

    api.add_router("/", reports_router)
    api.add_router("/", moderation_router)


_routes()
