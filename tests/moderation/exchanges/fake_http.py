"""The HTTP plumbing the fake programmes share: a handler that reads a request's body and sends
an answer, and a server on 127.0.0.1 in a thread (each fake follows its programme's own wire
format; this is only the transport)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.local_server import serve_in_thread


class FakeHandler(BaseHTTPRequestHandler):
    """Subclasses define `serve(method, body)` and answer with `answer`."""

    content_type = "application/json"

    def serve(self, method: str, body: bytes) -> None:
        raise NotImplementedError

    def answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _with_body(self):
        length = int(self.headers.get("Content-Length", 0) or 0)
        self.serve(self.command, self.rfile.read(length) if length else b"")

    do_GET = do_POST = do_PUT = _with_body

    def log_message(self, *args):
        pass


def serve(handler: type[FakeHandler], path: str = "") -> tuple[ThreadingHTTPServer, str]:
    """Start serving in a thread; (the server, its URL with `path`)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    serve_in_thread(httpd)
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}{path}"


@contextmanager
def running(fake, start: Callable) -> Iterator:
    """A fake programme served (by its module's `start`) for the block; stopped after it."""
    httpd = start(fake)
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


def pdq(n: int) -> str:
    """A distinct PDQ hash for n < 256 (n's two hex digits, 32 times)."""
    return f"{n:02x}" * 32
