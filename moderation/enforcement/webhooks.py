"""Sending one signed webhook to the platform, and classifying what came back.

Knows HTTP and HMAC, nothing about actions: moderation/enforcement/delivery.py decides what to send and what
an answer means for the delivery. The recipe the platform uses to verify is in docs/webhooks.md.
"""

import hashlib
import hmac
import http.client
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

SIGNATURE_HEADER = "Vigil-Signature"
USER_AGENT = "Vigil-Webhooks/1"
# Statuses that say "not now" rather than "no": the request may succeed later as it is.
RETRYABLE_STATUSES = frozenset({408, 429})
# Read at most this much of an answer: it is only looked at for a refusal's reason.
MAX_ANSWER_BYTES = 2048


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`, as Stripe signs its webhooks.

    Signing the time with the body lets the receiver refuse replays of an old, captured request.
    """
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Answer:
    """What one POST came to."""

    http_status: int | None
    error: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300

    @property
    def retryable(self) -> bool:
        """Worth trying again as it is: no answer at all, a server error, or "slow down"."""
        if self.http_status is None:
            return True
        return self.http_status >= 500 or self.http_status in RETRYABLE_STATUSES

    def describe(self) -> str:
        if self.http_status is None:
            return self.error
        text = f"HTTP {self.http_status}"
        return f"{text}: {self.error}" if self.error else text


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook endpoint that redirects is misconfigured; following it would send the signed
    payload (and, for a 303, a GET without it) somewhere nobody configured."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url`. Never raises for network trouble: that is an Answer too."""
    if not url.startswith(("https://", "http://")):
        raise ValueError("webhook URLs are http(s) only")
    # The scheme is checked above (and by the settings at start-up): no file: or custom schemes.
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
    for name, value in {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }.items():
        request.add_header(name, value)
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(MAX_ANSWER_BYTES)
            return Answer(http_status=response.status, error="", duration_ms=took())
    except urllib.error.HTTPError as e:
        reason = ""
        if 300 <= e.code < 500:
            # A refusal's body usually says why; keep a little of it for the supervisor.
            try:
                reason = _printable(e.read(MAX_ANSWER_BYTES).decode("utf-8", "replace"))
            except OSError:
                reason = ""
            if 300 <= e.code < 400:
                reason = f"redirect to {e.headers.get('Location', '?')} not followed"
        e.close()
        return Answer(http_status=e.code, error=reason[:200], duration_ms=took())
    except TimeoutError:
        return Answer(http_status=None, error=f"timed out after {timeout:g} s", duration_ms=took())
    except urllib.error.URLError as e:
        cause = e.reason
        if isinstance(cause, TimeoutError):
            error = f"timed out after {timeout:g} s"
        elif isinstance(cause, ssl.SSLError):
            error = f"TLS error: {cause}"
        elif isinstance(cause, OSError) and cause.strerror:
            error = cause.strerror
        else:
            error = str(cause)
        return Answer(http_status=None, error=_printable(error)[:200], duration_ms=took())
    except (OSError, ValueError, http.client.HTTPException) as e:
        # A connection reset mid-answer, a malformed status line...: no usable answer.
        error = f"{type(e).__name__}: {e}"
        return Answer(http_status=None, error=_printable(error)[:200], duration_ms=took())


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text).strip()
