"""What a hash exchange client is: something that fetches a programme's hash list incrementally,
a page at a time from a checkpoint, and (where the programme has feedback) sends a reviewer's
verdict on one of its entries.

The sync (moderation/exchanges/sync.py) owns everything else: it applies each page to the
exchange's bank in one transaction together with the checkpoint that follows it, so a sync that
dies anywhere resumes after its last applied page and applying a page twice changes nothing; it
retries transient failures with backoff and records every sync.

A client speaks HTTP through `http_request` (urllib, timeouts, a size cap) and raises only the
errors below; anything else it meets in a response (a page it cannot read) is ExchangeMalformed.
Credentials come from the environment (`credential`), never from the database.
"""

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

# A page's body is read up to this: a programme's page is a few MB; more is a fault.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
TIMEOUT_SECONDS = 30


class ExchangeError(Exception):
    """A sync or a feedback could not be done; the message is for people (no secrets in it)."""


class ExchangeAuthFailed(ExchangeError):
    """The programme refused the credentials (401/403), or they are not set: not retried."""


class ExchangeRateLimited(ExchangeError):
    """The programme asked to slow down (429): retried after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeUnavailable(ExchangeError):
    """The programme could not be reached or failed (timeouts, 5xx): retried with backoff."""


class ExchangeMalformed(ExchangeError):
    """A page the client cannot read: the sync stops at the last good page and says which."""


@dataclass(frozen=True)
class Signal:
    signal_type: str  # one of SIGNAL_TYPES
    value: str  # lower-case hex; for vPDQ python-threatexchange's signal string


@dataclass(frozen=True)
class Update:
    """One item of the programme's list, as of this page: its signals and labels, or its
    withdrawal (`deleted`: every entry it gave is removed)."""

    source_id: str
    signals: tuple[Signal, ...] = ()
    labels: tuple[str, ...] = ()
    deleted: bool = False


@dataclass
class Page:
    updates: list[Update]
    # Where the next page (or the next sync) starts; saved with this page's changes.
    checkpoint: dict
    # No more pages for now: the sync ends after this one.
    last: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FeedbackItem:
    """A verdict on one of the programme's entries."""

    source_id: str
    signal: Signal
    verdict: str  # "agree" or "disagree"
    labels: tuple[str, ...] = ()


class ExchangeClient:
    """The interface every programme's client implements."""

    #: Whether the programme takes feedback at all.
    takes_feedback = False

    def __init__(self, exchange):
        self.exchange = exchange

    def fetch(self, checkpoint: dict) -> Iterator[Page]:
        """Pages from `checkpoint` on ({} the first time), each with the checkpoint after it."""
        raise NotImplementedError

    def send_feedback(self, item: FeedbackItem) -> None:
        """Send one verdict; raise an ExchangeError when it was not taken."""
        raise ExchangeError(f"{self.exchange.get_kind_display()} takes no feedback")

    # Helpers for the clients.

    def credential(self, name: str) -> str:
        """The environment variable <credentials_env>_<NAME>; ExchangeAuthFailed when unset."""
        prefix = self.exchange.credentials_env
        variable = f"{prefix}_{name}" if prefix else ""
        value = os.environ.get(variable, "") if variable else ""
        if not value:
            raise ExchangeAuthFailed(
                f"The credentials for {self.exchange.name} are not set on this server."
            )
        return value


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_FOLLOWING = urllib.request.build_opener()
# For an API whose requests carry a secret in their URL: a redirect is answered, not followed.
_NOT_FOLLOWING = urllib.request.build_opener(_NoRedirect)


def _capped(response, what: str) -> bytes:
    data = response.read(MAX_RESPONSE_BYTES + 1)
    if len(data) > MAX_RESPONSE_BYTES:
        raise ExchangeMalformed(f"{what} answered with more than {MAX_RESPONSE_BYTES} bytes")
    return data


def http_request(
    url: str,
    *,
    method: str = "GET",
    headers: dict | None = None,
    body: bytes | None = None,
    what: str = "the exchange",
    not_modified: bool = False,
    answer_errors: bool = False,
    follow_redirects: bool = True,
) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a 2xx answer; the errors above for the rest. Bodies are
    capped at MAX_RESPONSE_BYTES; TIMEOUT_SECONDS a connection. `not_modified`: a 304 (the
    answer to a conditional request) is returned, not raised. `answer_errors`: every answer is
    returned, its body read (for an API that says in it what went wrong, as the Graph API
    does); only an unreachable server raises. `follow_redirects`: False for a request whose
    URL carries a secret."""
    if not url.startswith(("https://", "http://")):
        raise ExchangeMalformed(f"{what}: only http(s) addresses are fetched")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked just above)
        url, data=body, method=method, headers=headers or {}
    )
    opener = _FOLLOWING if follow_redirects else _NOT_FOLLOWING
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, dict(response.headers.items()), _capped(response, what)
    except urllib.error.HTTPError as e:
        status = e.code
        answered = dict(e.headers.items()) if e.headers else {}
        if answer_errors:
            with e:
                try:
                    return status, answered, _capped(e, what)
                except OSError:
                    return status, answered, b""  # the status says enough
        if status == 304 and not_modified:
            return 304, answered, b""
        if status in (401, 403):
            raise ExchangeAuthFailed(f"{what} refused the credentials ({status})") from None
        if status == 429:
            retry_after = answered.get("Retry-After", "60")
            seconds = int(retry_after) if str(retry_after).isdecimal() else 60
            raise ExchangeRateLimited(f"{what} asked to slow down (429)", seconds) from None
        if status >= 500:
            raise ExchangeUnavailable(f"{what} failed ({status})") from None
        raise ExchangeMalformed(f"{what} refused the request ({status})") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        raise ExchangeUnavailable(f"{what} could not be reached: {e}") from None
