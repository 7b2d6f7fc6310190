"""Who calls the API: platform tokens (hashed, scoped, rate-limited) and the console's session."""

import time
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from accounts.models import TOKEN_PREFIX, ApiToken, hash_token
from accounts.roles import scopes_allowed
from lib.api import ApiError, Principal
from lib.ratelimit import hit

# last_used_at is for people ("is this token still in use?"): a minute's precision is plenty and
# spares a write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


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
