"""A stand-in for Meta's ThreatExchange Graph API, for tests only: a real HTTP server on
127.0.0.1 in a thread, following the API as its documentation and python-threatexchange
(threatexchange/exchanges/clients/fb_threatexchange/api.py) describe it:

- every call needs `access_token` (query or form body): a wrong one is the Graph API's
  OAuthException (code 190) with `auth_status` (400 by default), quoting a malformed token back
  as the real one may;
- GET /v21.0/<privacy group>/threat_updates/?start_time=&stop_time=&limit=&fields=[&after=]:
  the group's indicators last updated in [start_time, stop_time), oldest first, `limit` at a
  time (at most `max_page_size`), only the fields asked for, as {"data": [...], "paging":
  {"cursors": {"before", "after"}, "next": url}}; the cursor is only good for the same window
  (another is a code 100 error); an unknown group is a code 100 error;
- POST /v21.0/<descriptor id> with reactions=[&reactions_to_remove=] (names from the
  documented list): recorded in `reactions`, and the app's reactions per descriptor kept in
  `my_reactions`; reacting to one's own descriptor or an unknown one is a code 100 error.

Knobs: `indicators` (the list served: indicator() and descriptor() make them), `max_page_size`,
`token`, `auth_status`, expire_cursors() (the cursors issued so far are refused), and a script
of behaviours per endpoint ("threat_updates", "reactions"), in turn: "throttle" (the Graph
API's code 4 error), "429" (with Retry-After `retry_after`), "500", "503", "malformed" (a page
cut short), "no_data" (JSON without data), "redirect" (a 302 elsewhere); once a script runs
out, "ok".
"""

import base64
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

from tests.moderation.exchanges.fake_http import FakeHandler, serve

APP_ID = "1064061590331234"
APP_SECRET = "fake-threatexchange-app-secret-5f0c1d"
TOKEN = f"{APP_ID}|{APP_SECRET}"
OTHER_APP = "2071881123456789"
VERSION = "v21.0"
PRIVACY_GROUP = "303636684709969"
REACTION_TYPES = {
    "HELPFUL",
    "NOT_HELPFUL",
    "OUTDATED",
    "SAW_THIS_TOO",
    "WANT_MORE_INFO",
    "DISAGREE_WITH_TAGS",
    "INGESTED",
    "IN_REVIEW",
    "ALREADY_KNOWN",
    "REVIEWED",
    "NON_MALICIOUS",
}


def descriptor(
    descriptor_id: str,
    *,
    owner: str = OTHER_APP,
    status: str = "MALICIOUS",
    tags: tuple[str, ...] = ("csam",),
) -> dict:
    return {"id": descriptor_id, "owner": owner, "status": status, "tags": list(tags)}


def indicator(
    indicator_id: str,
    value: str,
    *,
    updated: int,
    threat_type: str = "HASH_PDQ",
    deleted: bool = False,
    descriptors: list[dict] | None = None,
) -> dict:
    """An indicator of the group as the server holds it (descriptors None: one descriptor by
    another member, numbered after the indicator)."""
    if descriptors is None:
        descriptors = [] if deleted else [descriptor(f"9{indicator_id}")]
    return {
        "id": indicator_id,
        "indicator": value,
        "type": threat_type,
        "last_updated": updated,
        "should_delete": deleted,
        "descriptors": descriptors,
    }


@dataclass
class Request:
    method: str
    path: str
    params: dict
    query: str


@dataclass
class FakeThreatExchange:
    indicators: list[dict] = field(default_factory=list)
    max_page_size: int = 1000
    token: str = TOKEN
    auth_status: int = 400
    script: dict[str, list[str]] = field(default_factory=dict)
    retry_after: int = 7
    requests: list[Request] = field(default_factory=list)
    reactions: list[dict] = field(default_factory=list)
    my_reactions: dict[str, set] = field(default_factory=dict)
    url: str = ""
    # Cursors issued before expire_cursors() are refused.
    cursor_generation: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def behaviour(self, endpoint: str) -> str:
        with self._lock:
            queue = self.script.get(endpoint) or []
            return queue.pop(0) if queue else "ok"

    def expire_cursors(self):
        self.cursor_generation += 1

    def fetches(self) -> list[dict]:
        return [r.params for r in self.requests if r.path.endswith("/threat_updates")]


def _error(code: int, message: str, kind: str = "OAuthException", **more) -> dict:
    return {
        "error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf", **more}
    }


def _fields(spec: str) -> dict:
    """Graph API field selection ("a,b{c,d{e}}") as {name: sub-selection or None}."""
    selected, name, depth, inner = {}, "", 0, ""
    for char in spec + ",":
        if depth:
            if char == "}" and depth == 1:
                selected[name.strip()] = _fields(inner)
                name, inner, depth = "", "", 0
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            inner += char
        elif char == "{":
            depth, inner = 1, ""
        elif char == ",":
            if name.strip():
                selected[name.strip()] = None
            name = ""
        else:
            name += char
    return selected


def _as_graph(item: dict, fields: dict) -> dict:
    """The indicator with the fields asked for, edges as the Graph API gives them."""
    shown = {"id": item["id"]}
    for name, sub in fields.items():
        if name == "descriptors" and name in item:
            sub = sub or {"id": None}
            rows = []
            for d in item["descriptors"]:
                row = {"id": d["id"]}
                if "owner" in sub:
                    row["owner"] = {"id": d["owner"]}
                if "status" in sub:
                    row["status"] = d["status"]
                if "tags" in sub and d["tags"]:
                    row["tags"] = {
                        "data": [{"id": str(1000 + i), "text": t} for i, t in enumerate(d["tags"])]
                    }
                rows.append(row)
            if rows:
                shown["descriptors"] = {"data": rows}
        elif name in item:
            shown[name] = item[name]
    return shown


def _cursor(server: FakeThreatExchange, offset: int, start, stop) -> str:
    state = [server.cursor_generation, offset, start, stop]
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _threat_updates(server: FakeThreatExchange, group: str, params: dict) -> tuple[int, dict]:
    if group != PRIVACY_GROUP:
        return 400, _error(
            100,
            f"Unsupported get request. Object with ID '{group}' does not exist",
            "GraphMethodException",
        )
    try:
        start = int(params["start_time"]) if "start_time" in params else None
        stop = int(params["stop_time"]) if "stop_time" in params else None
        limit = min(max(int(params.get("limit", "25")), 1), server.max_page_size)
    except ValueError:
        return 400, _error(100, "(#100) start_time, stop_time and limit are numbers")
    offset = 0
    if "after" in params:
        try:
            generation, offset, cursor_start, cursor_stop = json.loads(
                base64.urlsafe_b64decode(params["after"])
            )
        except (ValueError, TypeError):
            return 400, _error(100, "(#100) Invalid cursor")
        if generation != server.cursor_generation:
            return 400, _error(100, "(#100) The cursor has expired")
        if (cursor_start, cursor_stop) != (start, stop):
            return 400, _error(100, "(#100) The cursor is for another query")
    with server._lock:
        window = sorted(
            (
                i
                for i in server.indicators
                if (start is None or i["last_updated"] >= start)
                and (stop is None or i["last_updated"] < stop)
            ),
            key=lambda i: (i["last_updated"], int(i["id"])),
        )
    fields = _fields(params.get("fields", "id"))
    page = [_as_graph(i, fields) for i in window[offset : offset + limit]]
    answer = {"data": page}
    if page:
        answer["paging"] = {
            "cursors": {"before": _cursor(server, offset, start, stop), "after": ""},
        }
        if offset + limit < len(window):
            after = _cursor(server, offset + limit, start, stop)
            answer["paging"]["cursors"]["after"] = after
            following = {**params, "after": after}
            answer["paging"]["next"] = (
                f"{server.url}/{group}/threat_updates/?{urllib.parse.urlencode(following)}"
            )
        else:
            del answer["paging"]["cursors"]["after"]
    return 200, answer


def _react(server: FakeThreatExchange, descriptor_id: str, params: dict) -> tuple[int, dict]:
    with server._lock:
        owners = {d["id"]: d["owner"] for i in server.indicators for d in i["descriptors"]}
    if descriptor_id not in owners:
        return 400, _error(
            100,
            f"Unsupported post request. Object with ID '{descriptor_id}' does not exist",
            "GraphMethodException",
        )
    if owners[descriptor_id] == APP_ID:
        return 400, _error(100, "(#100) You cannot react to your own descriptor")
    add = [r for r in params.get("reactions", "").split(",") if r]
    remove = [r for r in params.get("reactions_to_remove", "").split(",") if r]
    if not add and not remove or any(r not in REACTION_TYPES for r in add + remove):
        return 400, _error(100, "(#100) reactions must be ReactionType names")
    with server._lock:
        server.reactions.append({"descriptor": descriptor_id, "add": add, "remove": remove})
        mine = server.my_reactions.setdefault(descriptor_id, set())
        mine.update(add)
        mine.difference_update(remove)
    return 200, {"success": True}


def start(server: FakeThreatExchange) -> ThreadingHTTPServer:
    class Handler(FakeHandler):
        content_type = "application/json; charset=UTF-8"

        def serve(self, method: str, body: bytes = b""):
            parsed = urllib.parse.urlsplit(self.path)
            params = dict(urllib.parse.parse_qsl(parsed.query))
            if method == "POST":
                params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
            path = parsed.path.rstrip("/")
            server.requests.append(Request(method, path, params, parsed.query))
            parts = path.split("/")
            if len(parts) < 3 or parts[1] != VERSION:
                return self._json(400, _error(2500, "Unknown path components", "OAuthException"))
            if params.get("access_token") != server.token:
                given = params.get("access_token", "")
                return self._json(
                    server.auth_status,
                    _error(
                        190,
                        f"Malformed access token {given}"
                        if given
                        else "An active access token must be used to query information.",
                    ),
                )
            if method == "GET" and len(parts) == 4 and parts[3] == "threat_updates":
                endpoint = "threat_updates"
            elif method == "POST" and len(parts) == 3:
                endpoint = "reactions"
            else:
                return self._json(400, _error(100, "Unsupported request", "GraphMethodException"))
            behaviour = server.behaviour(endpoint)
            if behaviour == "throttle":
                return self._json(
                    400, _error(4, "(#4) Application request limit reached", is_transient=True)
                )
            if behaviour == "429":
                return self._json(
                    429, _error(4, "(#4) Too many calls"), {"Retry-After": str(server.retry_after)}
                )
            if behaviour in ("500", "503"):
                return self._json(
                    int(behaviour),
                    _error(2, "An unexpected error has occurred. Please retry your request later."),
                )
            if behaviour == "malformed":
                return self.answer(200, b'{"data": [{"id": "1", "indicator": "ab')
            if behaviour == "redirect":
                return self._json(302, {}, {"Location": f"{server.url}/elsewhere"})
            if behaviour == "no_data":
                return self._json(200, {"paging": {}})
            if endpoint == "threat_updates":
                status, answer = _threat_updates(server, parts[2], params)
            else:
                status, answer = _react(server, parts[2], params)
            self._json(status, answer)

        def _json(self, status: int, answer: dict, headers: dict | None = None):
            self.answer(status, json.dumps(answer).encode(), headers)

    httpd, server.url = serve(Handler, f"/{VERSION}")
    return httpd
