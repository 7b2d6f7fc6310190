"""A stand-in for NCMEC's hash sharing API (v2, XML), for tests only: a real HTTP server on
127.0.0.1 in a thread, answering as the API's documentation describes it (as read through
python-threatexchange's client and its test data):

- every call needs HTTP Basic credentials (401 without them);
- GET <base>/v2/entries?from=..&to=.. lists the entries changed in the window (from exclusive, to
  inclusive) in no time order, a page at a time, each page but the last ending in
  <paging><next>/v2/entries?from=..&to=..&start=..&size=..&max=..</next></paging>;
- PUT <base>/v2/entries/<member>/<id>/<TYPE>/feedback takes a <feedbackSubmission>;
- GET <base>/v2/feedback/<TYPE>/reasons lists the reasons a negative vote may give.

An entry changed at source gets a new timestamp (it shows up in the window of its change), and a
deleted one stays as a tombstone (<deletedImage>/<deletedVideo>) at the time of its deletion.

A test scripts trouble per endpoint ("entries", "feedback", "reasons"), one behaviour a request,
in turn: "ok", "429" (with Retry-After: `retry_after`), "500", "503", "malformed" (a truncated
page), "bad-entry" (an entry without its id), "foreign-next" (a paging link to another host).
"""

import hashlib
import threading
import urllib.parse
from base64 import b64decode
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer

from lxml import etree

from tests.moderation.exchanges.fake_http import FakeHandler, serve

USERNAME, PASSWORD = "vigil-esp", "fake-ncmec-password"
NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
BASE_PATH = "/hashsharing"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FINGERPRINT_TYPES = ("MD5", "SHA1", "PDNA", "PDQ", "NETCLEAN", "VIDENTIFIER", "TMK_PDQF")


@dataclass
class FakeEntry:
    member_id: int
    entry_id: str
    timestamp: int
    kind: str = "image"  # or "video"
    classification: str = "A1"
    # NCMEC's tags: md5, sha1, pdna, pdq, ...
    fingerprints: dict[str, str] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class Request:
    method: str
    path: str
    query: dict
    body: bytes
    authorised: bool


@dataclass
class Feedback:
    member_id: int
    entry_id: str
    fingerprint_type: str
    vote: str  # "affirmative" or "negative"
    reason_guids: list[str]
    body: bytes


@dataclass
class FakeNcmec:
    page_size: int = 1000
    refuse_auth: bool = False
    retry_after: str = "120"
    script: dict[str, list[str]] = field(default_factory=dict)
    reasons: dict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: {
            "MD5": [("11111111-aaaa-4bbb-8ccc-000000000001", "Not the material described")],
            "PDQ": [
                ("22222222-aaaa-4bbb-8ccc-000000000001", "Not the material described"),
                ("22222222-aaaa-4bbb-8ccc-000000000002", "Hash collision"),
            ],
        }
    )
    entries: dict[tuple[int, str], FakeEntry] = field(default_factory=dict)
    feedback: list[Feedback] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # The list, as NCMEC's members change it.

    def add(self, entry: FakeEntry) -> FakeEntry:
        with self._lock:
            self.entries[(entry.member_id, entry.entry_id)] = entry
        return entry

    def change(self, member_id: int, entry_id: str, timestamp: int, **changes) -> None:
        with self._lock:
            entry = self.entries[(member_id, entry_id)]
            entry.timestamp = timestamp
            for name, value in changes.items():
                setattr(entry, name, value)

    def delete(self, member_id: int, entry_id: str, timestamp: int) -> None:
        self.change(member_id, entry_id, timestamp, deleted=True, fingerprints={})

    # What it was asked.

    def entry_queries(self) -> list[dict]:
        return [r.query for r in self.requests if r.path.endswith("/v2/entries") and r.authorised]

    def behaviour(self, endpoint: str) -> str:
        with self._lock:
            queue = self.script.get(endpoint) or []
            return queue.pop(0) if queue else "ok"


def _time(value: str) -> int | None:
    # NCMEC's own paging links write milliseconds (…00.000Z); clients send whole seconds.
    for layout in (TIME_FORMAT, "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return int(datetime.strptime(value, layout).replace(tzinfo=UTC).timestamp())
        except (TypeError, ValueError):
            continue
    return None


def _format(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime(TIME_FORMAT)


def _element(parent, tag: str, text: str | None = None, **attributes):
    child = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}", **attributes)
    if text is not None:
        child.text = text
    return child


def _entries_page(server: FakeNcmec, query: dict, behaviour: str) -> tuple[int, bytes]:
    start_at, end_at = _time(query.get("from", "")), _time(query.get("to", ""))
    if start_at is None or end_at is None:
        return 400, b"from and to are required (yyyy-MM-ddTHH:mm:ssZ)"
    with server._lock:
        rows = [e for e in server.entries.values() if start_at < e.timestamp <= end_at]
    # In no time order, as the real API answers (but the same order for the same query).
    rows.sort(key=lambda e: hashlib.sha256(f"{e.member_id}-{e.entry_id}".encode()).hexdigest())
    first = int(query.get("start", "1") or 1)
    size = int(query.get("size", "") or server.page_size)
    page = rows[first - 1 : first - 1 + size]

    root = etree.Element(f"{{{NAMESPACE}}}queryResult", nsmap={None: NAMESPACE})
    for kind in ("image", "video"):
        of_kind = [e for e in page if e.kind == kind]
        attributes = {"count": str(len(of_kind))}
        if of_kind:
            attributes["maxTimestamp"] = _format(max(e.timestamp for e in of_kind))
        group = _element(root, f"{kind}s", **attributes)
        for e in of_kind:
            tag = f"deleted{kind.capitalize()}" if e.deleted else kind
            item = _element(group, tag)
            _element(item, "member", f"Member {e.member_id}", id=str(e.member_id))
            _element(item, "timestamp", _format(e.timestamp))
            if behaviour != "bad-entry":
                _element(item, "id", e.entry_id)
            if not e.deleted:
                if e.classification:
                    _element(item, "classification", e.classification)
                fingerprints = _element(item, "fingerprints")
                for name, value in e.fingerprints.items():
                    _element(fingerprints, name, value)
    following = first - 1 + size
    if following < len(rows):
        link = "/v2/entries?" + urllib.parse.urlencode(
            {
                "from": query["from"],
                "to": query["to"],
                "start": following + 1,
                "size": size,
                "max": len(rows),
            }
        )
        if behaviour == "foreign-next":
            link = "https://elsewhere.example" + link
        _element(_element(root, "paging"), "next", link)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    if behaviour == "malformed":
        body = body[: len(body) // 2]
    return 200, body


def _reasons(server: FakeNcmec, fingerprint_type: str) -> tuple[int, bytes]:
    if fingerprint_type not in FINGERPRINT_TYPES:
        return 400, b"unknown fingerprint type"
    root = etree.Element(f"{{{NAMESPACE}}}availableFeedbackReasons", nsmap={None: NAMESPACE})
    for guid, name in server.reasons.get(fingerprint_type, []):
        _element(root, "reason", guid=guid, name=name, type=fingerprint_type.capitalize())
    return 200, etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _take_feedback(server: FakeNcmec, parts: list[str], body: bytes) -> tuple[int, bytes]:
    member_id, entry_id, fingerprint_type = parts
    if not member_id.isdecimal() or (int(member_id), entry_id) not in server.entries:
        return 404, b"no such entry"
    if fingerprint_type not in FINGERPRINT_TYPES:
        return 400, b"unknown fingerprint type"
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return 400, b"not XML"
    votes = list(root)
    if root.tag != f"{{{NAMESPACE}}}feedbackSubmission" or len(votes) != 1:
        return 400, b"expected <feedbackSubmission> with one vote"
    vote = etree.QName(votes[0]).localname
    guids = [g.text or "" for g in votes[0].iter(f"{{{NAMESPACE}}}guid")]
    offered = {guid for guid, _ in server.reasons.get(fingerprint_type, [])}
    if vote == "affirmative" and guids:
        return 400, b"an affirmative vote gives no reasons"
    if vote == "negative" and (not guids or not set(guids) <= offered):
        return 400, b"a negative vote needs reasons from the list"
    if vote not in ("affirmative", "negative"):
        return 400, b"unknown vote"
    server.feedback.append(Feedback(int(member_id), entry_id, fingerprint_type, vote, guids, body))
    root = etree.Element(f"{{{NAMESPACE}}}submissionResult", nsmap={None: NAMESPACE})
    return 200, etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def handle(server: FakeNcmec, method: str, path: str, query: dict, body: bytes):
    """(status, headers, body) for one authorised request."""
    if not path.startswith(BASE_PATH + "/v2/"):
        return 404, {}, b"not found"
    parts = path[len(BASE_PATH + "/v2/") :].split("/")
    if method == "GET" and parts == ["entries"]:
        endpoint = "entries"
    elif method == "PUT" and len(parts) == 5 and parts[0] == "entries" and parts[4] == "feedback":
        endpoint = "feedback"
    elif method == "GET" and len(parts) == 3 and parts[0] == "feedback" and parts[2] == "reasons":
        endpoint = "reasons"
    else:
        return 404, {}, b"not found"
    behaviour = server.behaviour(endpoint)
    if behaviour == "429":
        return 429, {"Retry-After": server.retry_after}, b"Too many requests"
    if behaviour in ("500", "503"):
        return int(behaviour), {}, b"<html>Service unavailable</html>"
    if endpoint == "entries":
        status, answer = _entries_page(server, query, behaviour)
    elif endpoint == "reasons":
        status, answer = _reasons(server, parts[1])
    else:
        status, answer = _take_feedback(server, parts[1:4], body)
    return status, {}, answer


def _authorised(server: FakeNcmec, headers) -> bool:
    value = headers.get("Authorization", "")
    if server.refuse_auth or not value.startswith("Basic "):
        return False
    try:
        return b64decode(value[6:]).decode() == f"{USERNAME}:{PASSWORD}"
    except ValueError:
        return False


def start(server: FakeNcmec) -> ThreadingHTTPServer:
    class Handler(FakeHandler):
        content_type = "application/xml"

        def serve(self, method: str, body: bytes):
            split = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(split.path)
            query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query).items()}
            authorised = _authorised(server, self.headers)
            server.requests.append(Request(method, path, query, body, authorised))
            if authorised:
                status, headers, answer = handle(server, method, path, query, body)
            else:
                status, headers, answer = 401, {"WWW-Authenticate": 'Basic realm="NCMEC"'}, b""
            self.answer(status, answer, headers)

    httpd, server.url = serve(Handler, BASE_PATH)
    return httpd
