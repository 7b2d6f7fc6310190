"""Talking to NCMEC's CyberTipline reporting API: open a report, upload its files, send each
file's details, finish it (or retract a report that is not finished).

Knows HTTP and the CyberTipline's answers, nothing about escalations: moderation/escalations/submission.py
decides what to send, records every request and what an answer means for the escalation.

The API (the CyberTipline's "ESP reporting API"), under a base URL, with HTTP Basic auth:
- POST {base}/submit    body: the report XML            → reportResponse with the reportId
- POST {base}/upload    multipart: id (reportId), file  → reportResponse with fileId and MD5 hash
- POST {base}/fileinfo  body: a fileDetails XML         → reportResponse
- POST {base}/finish    form: id                        → reportDoneResponse with the fileIds
- POST {base}/retract   form: id                        → reportResponse
A responseCode other than 0 is a refusal (the report or file did not pass the authority's
checks), with the reason in responseDescription.

Every call returns a Reply or raises Refused (do not send it again as it is) or Unavailable (no
answer, a timeout, a server error: it may work later), each carrying the HTTP status (None when
no answer came) and how long it took.
"""

import base64
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from django.conf import settings
from lxml import etree

USER_AGENT = "Vigil-CyberTipline/1"
# Statuses that say "not now" rather than "no".
RETRYABLE_STATUSES = frozenset({408, 429})
MAX_ANSWER_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """An accepted request: what the authority answered."""

    http_status: int
    duration_ms: int
    report_id: int | None = None
    file_id: str = ""
    md5: str = ""
    file_ids: list[str] = field(default_factory=list)


class SubmitterError(Exception):
    def __init__(self, message: str, *, http_status: int | None = None, duration_ms: int = 0):
        super().__init__(message)
        self.message, self.http_status, self.duration_ms = message, http_status, duration_ms


class Refused(SubmitterError):
    """The authority said no (a non-zero responseCode, or a 4xx): sending it again unchanged
    will not help."""


class Unavailable(SubmitterError):
    """No answer, a timeout, a server error or "slow down": worth trying again later."""


class Submitter(Protocol):
    """The CyberTipline workflow. Each method is one request."""

    def open_report(self, report_xml: bytes) -> Reply: ...

    def upload_file(self, report_id: int, filename: str, stream: BinaryIO, size: int) -> Reply: ...

    def send_file_details(self, file_details_xml: bytes) -> Reply: ...

    def finish(self, report_id: int) -> Reply: ...

    def retract(self, report_id: int) -> Reply: ...


def configured() -> bool:
    """Submission through the API needs the URL and both credentials."""
    return bool(
        settings.CYBERTIP_API_URL and settings.CYBERTIP_USERNAME and settings.CYBERTIP_PASSWORD
    )


def from_settings() -> "HttpSubmitter":
    return HttpSubmitter(
        base_url=settings.CYBERTIP_API_URL,
        username=settings.CYBERTIP_USERNAME,
        password=settings.CYBERTIP_PASSWORD,
        timeout=settings.CYBERTIP_TIMEOUT_SECONDS,
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Following a redirect would send the report (and the credentials) somewhere nobody
    configured."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def parse_answer(body: bytes) -> etree._Element:
    """The authority's XML answer (reportResponse or reportDoneResponse)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(body, parser)
    if root.tag not in ("reportResponse", "reportDoneResponse"):
        raise ValueError(f"unexpected answer <{root.tag}>")
    return root


def _multipart(report_id: int, filename: str, stream: BinaryIO, size: int):
    """A multipart/form-data body (id, file) as chunks, streamed from `stream`: the file is
    never held in memory whole. Returns (content type, length, chunks)."""
    boundary = f"vigil-{secrets.token_hex(16)}"
    safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "")
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\n{report_id}\r\n'
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        sent = 0
        while chunk := stream.read(CHUNK_BYTES):
            sent += len(chunk)
            yield chunk
        if sent != size:
            # Content-Length promised `size`: a file that changed underneath must not be sent.
            raise OSError(f"{filename}: expected {size} bytes, read {sent}")
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + size + len(tail), chunks()


@dataclass
class HttpSubmitter:
    base_url: str
    username: str
    password: str
    timeout: float = 60

    def open_report(self, report_xml: bytes) -> Reply:
        reply = self._post("submit", report_xml, "text/xml; charset=utf-8")
        if reply.report_id is None:
            raise Unavailable(
                "The authority accepted the report but sent no reportId.",
                http_status=reply.http_status,
                duration_ms=reply.duration_ms,
            )
        return reply

    def upload_file(self, report_id: int, filename: str, stream: BinaryIO, size: int) -> Reply:
        content_type, length, body = _multipart(report_id, filename, stream, size)
        reply = self._post("upload", body, content_type, length=length)
        if not reply.file_id:
            raise Unavailable(
                "The authority accepted the file but sent no fileId.",
                http_status=reply.http_status,
                duration_ms=reply.duration_ms,
            )
        return reply

    def send_file_details(self, file_details_xml: bytes) -> Reply:
        return self._post("fileinfo", file_details_xml, "text/xml; charset=utf-8")

    def finish(self, report_id: int) -> Reply:
        return self._form("finish", report_id)

    def retract(self, report_id: int) -> Reply:
        return self._form("retract", report_id)

    def _form(self, path: str, report_id: int) -> Reply:
        body = urllib.parse.urlencode({"id": report_id}).encode()
        return self._post(path, body, "application/x-www-form-urlencoded")

    def _post(self, path: str, body, content_type: str, *, length: int | None = None) -> Reply:
        url = f"{self.base_url.rstrip('/')}/{path}"
        if not url.startswith(("https://", "http://")):
            raise ValueError("the CyberTipline API URL must be http(s)")
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        # The scheme is checked above: no file: or custom schemes.
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
        request.add_header("Content-Type", content_type)
        request.add_header("Authorization", f"Basic {credentials}")
        request.add_header("User-Agent", USER_AGENT)
        request.add_header("Content-Length", str(length if length is not None else len(body)))
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            with _opener.open(request, timeout=self.timeout) as response:
                status, answer = response.status, response.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as e:
            status = e.code
            try:
                answer = e.read(MAX_ANSWER_BYTES)
            except OSError:
                answer = b""
            reason = _description(answer) or e.reason or ""
            message = f"HTTP {status}" + (f": {reason}" if reason else "")
            if status >= 500 or status in RETRYABLE_STATUSES:
                raise Unavailable(message, http_status=status, duration_ms=elapsed()) from None
            if 300 <= status < 400:
                message = (
                    f"HTTP {status}: the API redirected; an administrator should check the "
                    "CyberTipline API address this server is configured with"
                )
            raise Refused(message, http_status=status, duration_ms=elapsed()) from None
        except TimeoutError:
            raise Unavailable(
                f"No answer within {self.timeout:g} seconds", duration_ms=elapsed()
            ) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, TimeoutError):
                message = f"No answer within {self.timeout:g} seconds"
            else:
                message = f"Could not reach the CyberTipline: {reason}"
            raise Unavailable(message[:500], duration_ms=elapsed()) from None
        return _reply(status, answer, elapsed())


def _description(answer: bytes) -> str:
    try:
        return (parse_answer(answer).findtext("responseDescription") or "").strip()
    except (etree.XMLSyntaxError, ValueError):
        return answer[:300].decode("utf-8", "replace").strip() if answer else ""


def _reply(status: int, answer: bytes, duration_ms: int) -> Reply:
    try:
        root = parse_answer(answer)
        code = int(root.findtext("responseCode"))
    except (etree.XMLSyntaxError, ValueError, TypeError):
        # A 2xx we cannot read: the server is having trouble; the request may be tried again.
        raise Unavailable(
            f"HTTP {status} with an answer that is not a CyberTipline response",
            http_status=status,
            duration_ms=duration_ms,
        ) from None
    if code != 0:
        reason = (root.findtext("responseDescription") or "").strip() or "no reason given"
        raise Refused(
            f"Refused by the CyberTipline (code {code}): {reason}"[:500],
            http_status=status,
            duration_ms=duration_ms,
        )
    raw_id = (root.findtext("reportId") or "").strip()
    try:
        report_id = int(raw_id) if raw_id else None
    except ValueError:
        report_id = 0
    if report_id is not None and not 0 < report_id < 2**63:
        # Not something Vigil can record (or resume with): fail rather than retry, which would
        # open yet another report.
        raise Refused(
            f"The CyberTipline answered with an unusable reportId {raw_id[:40]!r}.",
            http_status=status,
            duration_ms=duration_ms,
        )
    return Reply(
        http_status=status,
        duration_ms=duration_ms,
        report_id=report_id,
        file_id=(root.findtext("fileId") or "").strip(),
        md5=(root.findtext("hash") or "").strip(),
        file_ids=[(f.text or "").strip() for f in root.findall("files/fileId")],
    )
