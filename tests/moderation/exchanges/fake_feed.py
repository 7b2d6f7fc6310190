"""A stand-in for a partner's HTTPS hash feed, for tests only: a real HTTP server on 127.0.0.1 in
a thread, serving either

- a whole list (`lines`, python-threatexchange's CSV or `<type> <hash>` lines) with an ETag, and
  a 304 to a request that sends the current one back; or
- a Vigil-style incremental feed (`changes`: JSON-lines items, `page_size` a response) taking
  `?checkpoint=<n>` and answering `X-Vigil-Checkpoint` / `X-Vigil-More` (docs/feeds.md).

Scripted trouble, in turn: `server.script = ["401", "429", "500", "garbage", "slow", "ok"]`
("slow" answers after `slow_seconds`: long enough to kill whoever is waiting for it).
"""

import hashlib
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.local_server import serve_in_thread

TOKEN = "fake-feed-token"


@dataclass
class FakeFeed:
    lines: list[str] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    page_size: int = 2
    need_token: bool = False
    slow_seconds: float = 30.0
    script: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def behaviour(self) -> str:
        return self.script.pop(0) if self.script else "ok"

    def etag(self) -> str:
        return '"' + hashlib.sha256("\n".join(self.lines).encode()).hexdigest()[:16] + '"'


def _handler(feed: FakeFeed):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server's name)
            feed.requests.append(self.path)
            if feed.need_token and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, b"no")
            trouble = feed.behaviour()
            if trouble == "401":
                return self._send(401, b"no")
            if trouble == "429":
                return self._send(429, b"slow down", {"Retry-After": "120"})
            if trouble == "500":
                return self._send(500, b"oops")
            if trouble == "slow":
                time.sleep(feed.slow_seconds)
            path, _, query = self.path.partition("?")
            if path == "/list":
                if self.headers.get("If-None-Match") == feed.etag():
                    return self._send(304)
                body = "\n".join(feed.lines).encode()
                if trouble == "garbage":
                    body = b"\xff\xfe not text"
                return self._send(200, body, {"ETag": feed.etag(), "Content-Type": "text/csv"})
            if path == "/changes":
                params = urllib.parse.parse_qs(query)
                start = int(params.get("checkpoint", ["0"])[0])
                chunk = feed.changes[start : start + feed.page_size]
                body = "".join(json.dumps(c) + "\n" for c in chunk).encode()
                if trouble == "garbage":
                    body = b"{not json\n"
                following = start + len(chunk)
                return self._send(
                    200,
                    body,
                    {
                        "Content-Type": "application/x-ndjson",
                        "X-Vigil-Checkpoint": str(following),
                        "X-Vigil-More": "true" if following < len(feed.changes) else "false",
                    },
                )
            return self._send(404, b"")

    return Handler


def start_feed(feed: FakeFeed) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(feed))
    feed.url = f"http://127.0.0.1:{server.server_address[1]}"
    serve_in_thread(server)
    return server
