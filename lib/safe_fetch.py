"""Fetching a URL someone else chose (a link in a report, a flag or a message) without letting it
reach what it must not: this machine, the network it sits in, a cloud's metadata service.

- http and https only, no credentials in the URL, the default or an explicit port;
- the host is resolved here, and every address it resolves to must be public (`is_global`: no
  private, loopback, link-local, shared, reserved, multicast or unspecified address). An IPv6
  address with an IPv4 address inside is judged by that one: IPv4-mapped (::ffff:0:0/96),
  NAT64's well-known prefix (64:ff9b::/96, what DNS64 answers for every IPv4-only site on an
  IPv6-only network) and 6to4 (2002::/16) reach the IPv4 address they carry, so 64:ff9b::a9fe:a9fe
  is the metadata service 169.254.169.254 and refused while 64:ff9b::808:808 (8.8.8.8) is not.
  Transition ranges whose target cannot be told from the address, or that nothing public should
  answer from, are refused outright: NAT64's local-use prefix (64:ff9b:1::/48), IPv4-compatible
  (::/96, deprecated), Teredo (2001::/32) and site-local (fec0::/10, deprecated but still routed
  inside some networks). A refusal does not name the address (it reaches reviewers; an internal
  address is the operator's business): the log has it. The connection goes to the address that was checked, not to a second lookup
  (so a name that resolves to a public address once and a private one next cannot slip in), with
  TLS still verified against the host's name;
- every redirect is a new URL checked the same way, at most `max_redirects`;
- the answer is read up to `max_bytes` (a larger Content-Length is refused before reading; one
  limit, or one per type: images and videos have their own) within an overall deadline: every
  connect, TLS handshake, send and read of the socket gets the time left as its timeout, so a
  server that dribbles the body, the headers or its TLS handshake a byte at a time is cut off at
  the deadline, not at a fresh timeout per read (resolving the name is the system resolver's and
  bounded by its own timeout), never decompressed (`Accept-Encoding: identity`; an
  encoded answer is refused), and only of an accepted type.

A refusal says whether it may pass (`transient`): the server down, refusing or dropping the
connection, overloaded (5xx, 429, 408), or DNS not answering for now; another attempt later may
succeed. Everything else (an address that is not public, a type, a size, a deadline, a redirect
limit, an answer that is not HTTP, TLS that does not verify) is refused for good: asking again
gets the same answer, and a hostile server must not earn itself retries by being slow.

Tests reach a local server through `settings.SAFE_FETCH_ALLOWED_HOSTS`, a test-only allow-list
(empty in every deployment): a host named there skips the address check, nothing else does.
"""

import http.client
import ipaddress
import logging
import socket
import ssl
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)

USER_AGENT = "Vigil link checker (trust and safety review)"
CHUNK = 64 * 1024
# Characters a request line may carry as they are (spaces, controls and non-ASCII are escaped).
PRINTABLE_ASCII = "".join(chr(c) for c in range(33, 127))


# The longest any one socket operation may wait, however much of the deadline is left.
IDLE_TIMEOUT = 10.0

# IPv6 ranges that carry an IPv4 address a connection would reach (judged by it), and transition
# ranges refused outright: their target is not in the address, or nothing public answers there.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
REFUSED_V6 = tuple(
    ipaddress.IPv6Network(net) for net in ("64:ff9b:1::/48", "::/96", "2001::/32", "fec0::/10")
)

# Answers that say "not now" rather than "no": the server is down, overloaded or throttling.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class FetchRefused(Exception):
    """Not fetched; `reason` says why, for the record (no secrets: the URL's own words only).
    `transient`: the cause may pass, so another attempt later may succeed."""

    def __init__(self, reason: str, *, transient: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class Fetched:
    url: str  # the one asked for
    final_url: str  # after redirects
    content_type: str
    data: bytes


def fetch(
    url: str,
    *,
    max_bytes: int | Mapping[str, int],
    timeout: float = 10.0,
    max_redirects: int = 5,
    accept: tuple[str, ...] = ("image/", "video/"),
) -> Fetched:
    """The body at `url`, or FetchRefused. `max_bytes`: one limit, or one per type prefix
    (`{"image/": ..., "video/": ...}`), the longest prefix of the answer's type deciding."""
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(max_redirects + 1):
        parts, address = _checked(current)
        status, headers, response, connection = _request(parts, address, deadline)
        try:
            if status in (301, 302, 303, 307, 308):
                location = headers.get("location")
                if not location:
                    raise FetchRefused(f"a redirect ({status}) to nowhere")
                current = urllib.parse.urljoin(current, location)
                continue
            if status != 200:
                raise FetchRefused(
                    f"the server answered {status}", transient=status in TRANSIENT_STATUSES
                )
            content_type = _content_type(headers, accept)
            return Fetched(
                url=url,
                final_url=current,
                content_type=content_type,
                data=_read(response, headers, _limit(max_bytes, content_type), deadline),
            )
        finally:
            connection.close()
    raise FetchRefused(f"more than {max_redirects} redirects")


def _checked(url: str) -> tuple[urllib.parse.SplitResult, str]:
    """The URL's parts and the checked address to connect to."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchRefused("not a URL") from None
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https links are fetched, not {parts.scheme or 'none'}")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("a link with credentials in it is not fetched")
    host = parts.hostname
    if not host:
        raise FetchRefused("a link without a host")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        if e.errno == socket.EAI_AGAIN:
            # The resolver did not answer in time: "try again", not "no such name".
            raise FetchRefused(f"{host} could not be resolved for now", transient=True) from None
        raise FetchRefused(f"{host} does not resolve") from None
    except UnicodeError:
        raise FetchRefused(f"{host} does not resolve") from None
    addresses = [info[4][0] for info in infos]
    if host in settings.SAFE_FETCH_ALLOWED_HOSTS:
        return parts, addresses[0]
    for address in addresses:
        if not _public(address):
            # The address stays out of the reason: reviewers read it, and where a name leads
            # inside the network is for the operator (who has it here).
            logger.info("refused %s: it resolves to %s, which is not public", host, address)
            raise FetchRefused(f"{host} resolves to an address that is not public")
    return parts, addresses[0]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif any(ip in net for net in REFUSED_V6):
            return False
    return ip.is_global and not ip.is_multicast


class _Deadline:
    """A socket whose every operation may take only what is left of the fetch's deadline (at
    most IDLE_TIMEOUT): a socket's own timeout starts afresh at each call, so a server sending a
    header line every half second would otherwise keep a fetch going for as long as it liked.
    (One call is bounded as a whole: CPython's sendall and SSL handshake, read and write keep one
    deadline across their own retries.)"""

    deadline = 0.0

    def _bound(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("past the fetch's deadline")
        self.settimeout(min(left, IDLE_TIMEOUT))

    def connect(self, address):
        self._bound()
        return super().connect(address)

    def recv(self, *args, **kwargs):
        self._bound()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args, **kwargs):
        self._bound()
        return super().recv_into(*args, **kwargs)

    def send(self, *args, **kwargs):
        self._bound()
        return super().send(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        self._bound()
        return super().sendall(*args, **kwargs)


class _DeadlineSocket(_Deadline, socket.socket):
    pass


class _DeadlineSSLSocket(_Deadline, ssl.SSLSocket):
    def do_handshake(self, *args, **kwargs):
        self._bound()
        return super().do_handshake(*args, **kwargs)


def _connect(address: str, port: int, deadline: float) -> _DeadlineSocket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = _DeadlineSocket(family, socket.SOCK_STREAM)
    sock.deadline = deadline
    try:
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host, port, address, deadline):
        super().__init__(host, port)
        self._address = address
        self._deadline = deadline

    def connect(self):
        self.sock = _connect(self._address, self.port, self._deadline)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, address, deadline):
        context = ssl.create_default_context()
        context.sslsocket_class = _DeadlineSSLSocket
        super().__init__(host, port, context=context)
        self._address = address
        self._deadline = deadline

    def connect(self):
        sock = _connect(self._address, self.port, self._deadline)
        try:
            # Verified against the host's name, though connected to the checked address. The
            # handshake is made here, once the TLS socket knows the deadline.
            tls = self._context.wrap_socket(
                sock, server_hostname=self.host, do_handshake_on_connect=False
            )
        except BaseException:
            sock.close()
            raise
        tls.deadline = self._deadline
        try:
            tls.do_handshake()
        except BaseException:
            tls.close()
            raise
        self.sock = tls


def _request(parts, address: str, deadline: float):
    if deadline - time.monotonic() <= 0:
        raise FetchRefused("it took too long")
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection = kind(parts.hostname, port, address, deadline)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    # A request line is ASCII: a link's (or a redirect's) other characters go percent-encoded.
    path = urllib.parse.quote(path, safe=PRINTABLE_ASCII)
    try:
        connection.request(
            "GET",
            path,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "image/*, video/*",
                "Accept-Encoding": "identity",
            },
        )
        response = connection.getresponse()
    except (OSError, http.client.HTTPException) as e:
        connection.close()
        raise _failed("could not fetch it", e) from None
    headers = {k.lower(): v for k, v in response.getheaders()}
    return response.status, headers, response, connection


def _content_type(headers: dict, accept: tuple[str, ...]) -> str:
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # Never decompressed: a small encoded answer can unpack to gigabytes.
        raise FetchRefused(f"an encoded answer ({encoding}) is not taken")
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not content_type.startswith(accept):
        raise FetchRefused(f"not an image or a video ({content_type or 'no type'})")
    return content_type


def _read(response, headers: dict, max_bytes: int, deadline: float) -> bytes:
    length = headers.get("content-length", "")
    if length.isdecimal() and int(length) > max_bytes:
        raise FetchRefused(f"larger than {max_bytes} bytes")
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise FetchRefused("it took too long")
        try:
            chunk = response.read1(CHUNK)
        except (OSError, http.client.HTTPException) as e:
            raise _failed("the answer broke off", e) from None
        if not chunk:
            if length.isdecimal() and size < int(length):
                # http.client's read1 ends quietly at a connection closed early: never take a
                # file cut short for the whole of it.
                raise FetchRefused(
                    f"the answer broke off ({size} of {length} bytes)", transient=True
                )
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefused(f"larger than {max_bytes} bytes")
        chunks.append(chunk)


def _failed(what: str, error: Exception) -> FetchRefused:
    """A connection's failure, said in words, and whether it may pass."""
    if isinstance(error, TimeoutError):
        # A server too slow to answer is cut off for good, as one that dribbles.
        return FetchRefused("it took too long")
    if isinstance(error, ssl.SSLError):
        # A certificate that does not verify will not verify next time either.
        return FetchRefused(f"{what}: TLS failed ({type(error).__name__})")
    if isinstance(error, OSError | http.client.IncompleteRead):
        # Refused, reset, unreachable, cut off midway: the server or the network may come back.
        # (Checked before HTTPException: RemoteDisconnected is both a reset and a bad answer.)
        return FetchRefused(f"{what}: {type(error).__name__}", transient=True)
    # Not HTTP (a bad status line, headers too long): the server speaks nonsense, and will again.
    return FetchRefused(f"{what}: {type(error).__name__}")


def _limit(max_bytes: int | Mapping[str, int], content_type: str) -> int:
    if isinstance(max_bytes, int):
        return max_bytes
    prefixes = [p for p in max_bytes if content_type.startswith(p)]
    if not prefixes:
        raise FetchRefused(f"no size limit for {content_type}")
    return max_bytes[max(prefixes, key=len)]
