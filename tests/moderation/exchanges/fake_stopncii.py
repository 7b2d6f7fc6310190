"""A stand-in for StopNCII.org's hash API, for tests only: a real HTTP server on 127.0.0.1 in a
thread, following the API as python-threatexchange documents it
(threatexchange/exchanges/clients/stopncii/api.py):

- every call needs the subscription key (Ocp-Apim-Subscription-Key) and the endpoint's own
  function key (x-functions-key), else 401;
- GET /v1/FetchHashes?startTimestamp=&pageSize=[&nextPageToken=]: the records modified at or
  after startTimestamp, oldest first, a page at a time, as {count, nextPageToken,
  nextSetTimestamp, hasMoreRecords, hashRecords}; the token is an opaque cursor the server
  issued (an unknown or expired one is a 400);
- POST /v1/SubmitFeedback {"count", "hashFeedbacks": [{"hashValue", "feedbackValue", "tags"}]}:
  recorded in `feedback`.

Knobs: `records` (the list served), `max_page_size`, `keys`, and a script of behaviours per
endpoint, in turn ("400", "429", "500", "503", "malformed", "ok"): `server.script["FetchHashes"] =
["429", "ok"]`; once a script runs out, "ok". `retry_after` is the 429's Retry-After.
"""

import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

from tests.moderation.exchanges.fake_http import FakeHandler, serve

SUBSCRIPTION_KEY = "fake-subscription-key"
FETCH_KEY = "fake-fetch-function-key"
FEEDBACK_KEY = "fake-feedback-function-key"
FEEDBACK_VALUES = {
    "Unknown",
    "None",
    "QualityUnknown",
    "PendingReview",
    "Blocked",
    "NotBlocked",
    "Withdrawn",
    "Deleted",
}


def record(
    hash_value: str,
    *,
    modified: int,
    signal_type: str = "ImagePDQ",
    status: str = "Active",
    cases: dict | None = None,
    feedbacks: list | None = None,
) -> dict:
    """A hash record as the API gives it."""
    return {
        "lastModtimestamp": modified,
        "signalType": signal_type,
        "hashValue": hash_value,
        "hashStatus": status,
        "caseNumbers": cases if cases is not None else {f"case-{hash_value[:8]}": status},
        "CSPFeedbacks": feedbacks or [],
    }


@dataclass
class Request:
    method: str
    endpoint: str
    params: dict
    headers: dict  # names in lower case
    body: bytes


@dataclass
class FakeStopNcii:
    records: list[dict] = field(default_factory=list)
    max_page_size: int = 1000
    keys: dict = field(
        default_factory=lambda: {
            "subscription": SUBSCRIPTION_KEY,
            "FetchHashes": FETCH_KEY,
            "SubmitFeedback": FEEDBACK_KEY,
        }
    )
    script: dict[str, list[str]] = field(default_factory=dict)
    retry_after: int = 7
    requests: list[Request] = field(default_factory=list)
    feedback: list[dict] = field(default_factory=list)
    url: str = ""
    # token -> (startTimestamp, offset into the walk, nextSetTimestamp of the walk)
    tokens: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def behaviour(self, endpoint: str) -> str:
        with self._lock:
            queue = self.script.get(endpoint) or []
            return queue.pop(0) if queue else "ok"

    def fetches(self) -> list[dict]:
        return [r.params for r in self.requests if r.endpoint == "FetchHashes"]

    def expire_tokens(self):
        self.tokens.clear()


def _fetch(server: FakeStopNcii, params: dict) -> tuple[int, dict]:
    try:
        start = int(params.get("startTimestamp", "10"))
        size = min(max(int(params.get("pageSize", "800")), 1), server.max_page_size)
    except ValueError:
        return 400, {"error": "startTimestamp and pageSize are numbers"}
    token = params.get("nextPageToken")
    with server._lock:
        if token:
            cursor = server.tokens.get(token)
            if cursor is None or cursor[0] != start:
                return 400, {"error": "nextPageToken is invalid or expired"}
            _, offset, next_set = cursor
        else:
            offset = 0
        walk = sorted(
            (r for r in server.records if r["lastModtimestamp"] >= start),
            key=lambda r: (r["lastModtimestamp"], r["signalType"], r["hashValue"]),
        )
        if not token:
            next_set = max((r["lastModtimestamp"] for r in walk), default=start)
        page = walk[offset : offset + size]
        more = offset + size < len(walk)
        next_token = None
        if more:
            next_token = secrets.token_urlsafe(24)
            server.tokens[next_token] = (start, offset + size, next_set)
    return 200, {
        "count": len(page),
        "nextPageToken": next_token,
        "nextSetTimestamp": next_set,
        "hasMoreRecords": more,
        "hashRecords": page,
    }


def _submit_feedback(server: FakeStopNcii, body: bytes) -> tuple[int, dict]:
    try:
        payload = json.loads(body)
        feedbacks = payload["hashFeedbacks"]
        assert payload["count"] == len(feedbacks)
        for item in feedbacks:
            assert set(item) == {"hashValue", "feedbackValue", "tags"}
            assert item["feedbackValue"] in FEEDBACK_VALUES
            assert isinstance(item["tags"], list)
    except (ValueError, KeyError, TypeError, AssertionError):
        return 400, {"error": "not a SubmitFeedback body"}
    server.feedback.extend(feedbacks)
    return 200, {"count": len(feedbacks)}


def start(server: FakeStopNcii) -> ThreadingHTTPServer:
    class Handler(FakeHandler):
        def serve(self, method: str, body: bytes = b""):
            parsed = urllib.parse.urlsplit(self.path)
            endpoint = parsed.path.rstrip("/").rsplit("/", 1)[-1]
            params = dict(urllib.parse.parse_qsl(parsed.query))
            server.requests.append(
                Request(
                    method, endpoint, params, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            expected = {"GET": "FetchHashes", "POST": "SubmitFeedback"}[method]
            if not parsed.path.startswith("/v1/") or endpoint != expected:
                return self.answer(404, b'{"error": "not found"}')
            if self.headers.get("Ocp-Apim-Subscription-Key") != server.keys["subscription"]:
                return self.answer(401, b'{"statusCode": 401, "message": "Access denied"}')
            if self.headers.get("x-functions-key") != server.keys[endpoint]:
                return self.answer(401, b"")
            behaviour = server.behaviour(endpoint)
            if behaviour == "429":
                return self.answer(
                    429, b'{"statusCode": 429}', {"Retry-After": str(server.retry_after)}
                )
            if behaviour == "400":
                return self.answer(400, b'{"statusCode": 400, "message": "Bad request"}')
            if behaviour in ("500", "502", "503"):
                return self.answer(int(behaviour), b"<html>Service unavailable</html>")
            if behaviour == "malformed":
                return self.answer(200, b'{"count": 2, "hashRecords": [{"lastMod')
            if endpoint == "FetchHashes":
                status, answer = _fetch(server, params)
            else:
                status, answer = _submit_feedback(server, body)
            self.answer(status, json.dumps(answer).encode())

    httpd, server.url = serve(Handler, "/v1")
    return httpd
