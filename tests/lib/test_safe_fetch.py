"""Fetching a link someone else chose: only public addresses, checked after resolution and on
every redirect; bounded in size, time and redirects; images and videos only, never decompressed."""

import contextlib
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lib import safe_fetch
from lib.safe_fetch import FetchRefused, fetch
from tests.conftest import png_bytes
from tests.local_server import serve_in_thread

PNG = png_bytes()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's name)
        path = self.path
        if path == "/image.png":
            return self._send(200, PNG, {"Content-Type": "image/png"})
        if path == "/page.html":
            return self._send(200, b"<html></html>", {"Content-Type": "text/html"})
        if path == "/gzip":
            return self._send(
                200, b"x" * 10, {"Content-Type": "image/png", "Content-Encoding": "gzip"}
            )
        if path == "/big":
            return self._send(200, b"x" * 5000, {"Content-Type": "image/png"})
        if path == "/big-unannounced":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(b"x" * 5000)
            return None
        if path == "/forever":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
            return None
        if path.startswith("/slow-redirect-to?"):
            time.sleep(0.6)
            return self._send(302, headers={"Location": path.split("?", 1)[1]})
        if path.startswith("/redirect-to?"):
            return self._send(302, headers={"Location": path.split("?", 1)[1]})
        if path == "/loop":
            return self._send(302, headers={"Location": "/loop"})
        if path.startswith("/status/"):
            return self._send(int(path.rsplit("/", 1)[1]))
        if path == "/hang-up":
            # The connection closed without a word: what a server restarting looks like.
            self.close_connection = True
            return None
        if path == "/cut-short":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(PNG[:10])
            self.close_connection = True
            return None
        if path == "/bild-%C3%BC.png":  # a link with a non-ASCII name, as sent
            return self._send(200, PNG, {"Content-Type": "image/png"})
        if path == "/video":
            return self._send(200, b"x" * 5000, {"Content-Type": "video/mp4"})
        return self._send(404)


@pytest.fixture
def server(settings):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    serve_in_thread(httpd)
    # The test-only allow-list: this one local server, by the name the tests use for it.
    settings.SAFE_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def refused(url, **kwargs) -> str:
    with pytest.raises(FetchRefused) as e:
        fetch(url, max_bytes=kwargs.pop("max_bytes", 100_000), **kwargs)
    return e.value.reason


def test_it_fetches_an_image_from_an_allowed_host(server):
    got = fetch(f"{server}/image.png", max_bytes=100_000)
    assert got.data == PNG and got.content_type == "image/png"


def test_it_follows_a_redirect_and_checks_where_it_leads(server):
    got = fetch(f"{server}/redirect-to?/image.png", max_bytes=100_000)
    assert got.final_url.endswith("/image.png") and got.data == PNG


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[::1]/",
        "http://localhost/",
    ],
)
def test_a_redirect_to_a_private_address_is_refused(server, target):
    assert "not public" in refused(f"{server}/redirect-to?{target}")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address the fetch must refuse, not one bound)
        "224.0.0.1",
        "::1",
        "fc00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_a_name_that_resolves_to_a_private_address_is_refused(monkeypatch, address):
    # DNS is the network beyond this machine: a name answering with the given address.
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kw: [(family, socket.SOCK_STREAM, 6, "", (address, port))],
    )
    assert "not public" in refused("https://innocent.example/picture.jpg")


def test_every_address_a_name_resolves_to_must_be_public(monkeypatch, caplog):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kw: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ],
    )
    with caplog.at_level(logging.INFO, logger="lib.safe_fetch"):
        reason = refused("https://two-faced.example/x.jpg")
    # Reviewers read the reason: the internal address is in the log only.
    assert reason == "two-faced.example resolves to an address that is not public"
    assert "10.0.0.5" in caplog.text


def resolving_to(monkeypatch, address: str) -> None:
    """DNS (the network beyond this machine) answering every name with `address`."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kw: [(family, socket.SOCK_STREAM, 6, "", (address, port))],
    )


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 (well-known prefix) of 169.254.169.254, the metadata service
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "64:ff9b:1::808:808",  # NAT64's local-use prefix: refused whatever it carries
        "64:ff9b:1:ffff::a9fe:a9fe",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "::127.0.0.1",  # IPv4-compatible (deprecated): refused whatever it carries
        "::a9fe:a9fe",
        "::8.8.8.8",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo: refused (its client is obfuscated)
        "2001:0:a00:5::1",
        "fec0::1",  # site-local (deprecated, still routed inside some networks)
        "fec0:0:0:ffff::1",
        "feff::1",
    ],
)
def test_an_ipv6_transition_address_is_refused_unless_it_carries_a_public_one(monkeypatch, address):
    resolving_to(monkeypatch, address)
    reason = refused("https://innocent.example/picture.jpg")
    assert reason == "innocent.example resolves to an address that is not public"


class Connected(Exception):
    pass


@pytest.mark.parametrize(
    ("address", "carries"),
    [
        # Unwrapped and judged by the IPv4 address inside: on an IPv6-only network DNS64 answers
        # 64:ff9b::a.b.c.d for every IPv4-only site, which must stay reachable; 6to4 reaches the
        # IPv4 address it names.
        ("64:ff9b::808:808", "8.8.8.8"),
        ("64:ff9b::5db8:d822", "93.184.216.34"),
        ("2002:808:808::1", "8.8.8.8"),
    ],
)
def test_an_ipv6_address_carrying_a_public_ipv4_one_is_fetched(monkeypatch, address, carries):
    import ipaddress

    resolving_to(monkeypatch, address)
    # The check passes and the fetch goes to connect (to the checked address): stopped there,
    # since nothing beyond this machine is reached from a test.
    tried = []

    def connect(self, target):
        tried.append(target)
        raise Connected

    monkeypatch.setattr(safe_fetch._DeadlineSocket, "connect", connect)
    with pytest.raises(Connected):
        fetch("https://innocent.example/picture.jpg", max_bytes=1000)
    assert tried == [(address, 443)]
    embedded = ipaddress.IPv6Address(address)
    assert str(embedded.sixtofour or ipaddress.IPv4Address(int(embedded) & 0xFFFFFFFF)) == carries


def test_the_local_server_is_refused_without_the_allow_list(server, settings):
    settings.SAFE_FETCH_ALLOWED_HOSTS = []
    assert "not public" in refused(f"{server}/image.png")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.org/x.png", "only http and https"),
        ("gopher://example.org/", "only http and https"),
        ("https://user:secret@example.org/x.png", "credentials"),
        ("http:///nohost", "without a host"),
        ("http://example.org:99999/", "not a URL"),
    ],
)
def test_other_kinds_of_links_are_refused(url, says):
    assert says in refused(url)


def test_size_time_type_and_encoding_limits(server):
    assert "larger than 1000" in refused(f"{server}/big", max_bytes=1000)
    assert "larger than 1000" in refused(f"{server}/big-unannounced", max_bytes=1000)
    assert "too long" in refused(f"{server}/forever", timeout=0.5)
    assert "not an image or a video" in refused(f"{server}/page.html")
    assert "encoded answer (gzip)" in refused(f"{server}/gzip")
    assert "answered 404" in refused(f"{server}/missing")
    assert "more than 5 redirects" in refused(f"{server}/loop")


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_an_answer_that_says_not_now_may_pass(server, status):
    with pytest.raises(FetchRefused) as e:
        fetch(f"{server}/status/{status}", max_bytes=100_000)
    assert e.value.transient and e.value.reason == f"the server answered {status}"


def test_a_connection_refused_or_dropped_may_pass(server):
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()  # nothing listens there now
    for url in (f"http://127.0.0.1:{port}/x.png", f"{server}/hang-up", f"{server}/cut-short"):
        with pytest.raises(FetchRefused) as e:
            fetch(url, max_bytes=100_000)
        assert e.value.transient, (url, e.value.reason)


def test_a_resolver_that_says_try_again_may_pass(monkeypatch):
    def busy(host, port, **kw):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", busy)
    with pytest.raises(FetchRefused) as e:
        fetch("https://busy.example/x.png", max_bytes=100_000)
    assert e.value.transient and "for now" in e.value.reason


def test_what_asking_again_would_not_change_is_refused_for_good(server, monkeypatch):
    for url, kwargs in [
        (f"{server}/missing", {}),
        (f"{server}/page.html", {}),
        (f"{server}/big", {"max_bytes": 1000}),
        (f"{server}/forever", {"timeout": 0.3}),
        (f"{server}/loop", {}),
        (f"{server}/redirect-to?http://10.0.0.1/", {}),
        ("ftp://example.org/x.png", {}),
    ]:
        with pytest.raises(FetchRefused) as e:
            fetch(url, max_bytes=kwargs.pop("max_bytes", 100_000), **kwargs)
        assert not e.value.transient, (url, e.value.reason)

    def no_such_name(host, port, **kw):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(FetchRefused) as e:
        fetch("https://nowhere.example/x.png", max_bytes=100_000)
    assert not e.value.transient and "does not resolve" in e.value.reason


def test_images_and_videos_may_have_limits_of_their_own(server):
    limits = {"image/": 1000, "video/": 10_000}
    assert "larger than 1000" in refused(f"{server}/big", max_bytes=limits)
    assert len(fetch(f"{server}/video", max_bytes=limits).data) == 5000
    assert "no size limit for image/png" in refused(f"{server}/big", max_bytes={"video/": 10_000})


def test_a_link_with_other_characters_is_asked_for_percent_encoded(server):
    assert fetch(f"{server}/bild-ü.png", max_bytes=100_000).data == PNG


def dribbling_server(settings, speak) -> str:
    """A local server (on the test-only allow-list) that answers every connection with
    `speak(connection)` in a thread of its own; its base URL's host:port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    settings.SAFE_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]

    def serve():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        # OSError: the fetch hung up on us, which is what it should do.
        with conn, contextlib.suppress(OSError):
            speak(conn)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"127.0.0.1:{listener.getsockname()[1]}"


def dribble_headers(conn):
    conn.recv(65536)  # the request
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n")
    for i in range(40):  # one header line every 0.2 s, for 8 s: every read is quick
        conn.sendall(f"X-Slow-{i}: a\r\n".encode())
        time.sleep(0.2)
    conn.sendall(b"Content-Length: 3\r\n\r\nabc")


def dribble_tls_handshake(conn):
    conn.recv(65536)  # the ClientHello
    # A handshake record announcing 16 KB, sent a byte every 0.2 s: the client waits for all.
    conn.sendall(b"\x16\x03\x03\x40\x00")
    for _ in range(40):
        conn.sendall(b"\x02")
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("scheme", "speak"), [("http", dribble_headers), ("https", dribble_tls_handshake)]
)
def test_a_server_dribbling_headers_or_its_handshake_is_cut_off_at_the_deadline(
    settings, scheme, speak
):
    where = dribbling_server(settings, speak)
    started = time.monotonic()
    with pytest.raises(FetchRefused) as e:
        fetch(f"{scheme}://{where}/x.png", max_bytes=100_000, timeout=1.0)
    took = time.monotonic() - started
    assert e.value.reason == "it took too long" and not e.value.transient
    assert 0.9 < took < 1.5, took


def test_a_deadline_already_spent_on_a_slow_redirect_bounds_the_next_hop(settings, server):
    # The redirect's hop takes 0.6 s of a 1 s deadline; the next hop dribbles its headers and is
    # cut off when the whole fetch's second is up, not a second after it started.
    where = dribbling_server(settings, dribble_headers)
    started = time.monotonic()
    with pytest.raises(FetchRefused) as e:
        fetch(f"{server}/slow-redirect-to?http://{where}/x.png", max_bytes=100_000, timeout=1.0)
    assert e.value.reason == "it took too long"
    assert time.monotonic() - started < 1.5
