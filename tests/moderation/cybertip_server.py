"""A stand-in for NCMEC's CyberTipline reporting API, for tests only: a real HTTP server on
127.0.0.1 in a thread.

Like the real one it needs HTTP Basic credentials, validates every report and fileDetails XML
against the CyberTipline schema (and refuses what does not validate with a non-zero
responseCode), issues report and file ids, and answers in reportResponse / reportDoneResponse.
A test scripts trouble per endpoint: `server.script["upload"] = ["500", "slow", "ok"]`.
"""

import email.parser
import email.policy
import hashlib
import itertools
import threading
import time
import urllib.parse
from base64 import b64decode
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lxml import etree

from tests.local_server import serve_in_thread

USERNAME, PASSWORD = "vigil-esp", "fake-cybertip-password"
VENDORED_XSD = (
    Path(__file__).resolve().parents[2]
    / "moderation"
    / "escalations"
    / "schemas"
    / "cyber_tipline.xsd"
)
SHARED_XSD = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "cyber_tipline.xsd"

# The server's own copy of the schema, loaded independently of the code under test.
_schema = etree.XMLSchema(etree.parse(str(SHARED_XSD if SHARED_XSD.exists() else VENDORED_XSD)))
_schema_lock = threading.Lock()

VALIDATION_FAILED = 4100
UNKNOWN_REPORT = 4200
ALREADY_FINISHED = 4300


@dataclass
class FakeReport:
    report_xml: bytes
    files: dict[str, dict] = field(default_factory=dict)
    finished: bool = False
    retracted: bool = False


@dataclass
class Request:
    path: str
    body: bytes
    authorised: bool


@dataclass
class FakeCyberTipline:
    """Scripted behaviours per endpoint ("ok", "invalid", "500", "503", "slow", "slow-ok"), in
    turn; once a script runs out, "ok". "slow" sleeps `slow_seconds` then answers 200 as usual
    (the client has given up by then); "invalid" refuses with a validation error."""

    script: dict[str, list[str]] = field(default_factory=dict)
    slow_seconds: float = 3.0
    reports: dict[int, FakeReport] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(91_000_001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path and r.authorised)

    def behaviour(self, path: str) -> str:
        with self._lock:
            queue = self.script.get(path) or []
            return queue.pop(0) if queue else "ok"

    def finished_reports(self) -> list[int]:
        return [rid for rid, r in self.reports.items() if r.finished]


def _response(code: int, description: str = "", **fields) -> bytes:
    root = etree.Element("reportResponse")
    etree.SubElement(root, "responseCode").text = str(code)
    etree.SubElement(root, "responseDescription").text = description or (
        "Success" if code == 0 else "Error"
    )
    for name in ("reportId", "fileId", "hash"):
        if fields.get(name) is not None:
            etree.SubElement(root, name).text = str(fields[name])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _done(report_id: int, file_ids: list[str]) -> bytes:
    root = etree.Element("reportDoneResponse")
    etree.SubElement(root, "responseCode").text = "0"
    etree.SubElement(root, "reportId").text = str(report_id)
    files = etree.SubElement(root, "files")
    for file_id in file_ids:
        etree.SubElement(files, "fileId").text = file_id
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _validate(xml: bytes) -> tuple[etree._Element | None, str]:
    try:
        document = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as e:
        return None, f"XML is not well-formed: {e}"
    with _schema_lock:
        if _schema.validate(document):
            return document, ""
        return None, "; ".join(f"line {e.line}: {e.message}" for e in _schema.error_log)


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[name] = (part.get_filename() or "", part.get_payload(decode=True) or b"")
    return parts


def handle(server: FakeCyberTipline, path: str, headers, body: bytes) -> tuple[int, bytes]:
    behaviour = server.behaviour(path)
    if behaviour in ("500", "503"):
        return int(behaviour), b"<html>Service unavailable</html>"
    if behaviour == "slow":
        time.sleep(server.slow_seconds)
    if behaviour == "invalid":
        return 200, _response(VALIDATION_FAILED, "Validation failed: scripted by the test")

    if path == "submit":
        document, errors = _validate(body)
        if document is None or document.tag != "report":
            return 200, _response(VALIDATION_FAILED, f"Report XML is invalid: {errors}")
        with server._lock:
            report_id = next(server._ids)
            server.reports[report_id] = FakeReport(report_xml=body)
        return 200, _response(0, reportId=report_id)

    if path == "upload":
        parts = _multipart(headers.get("Content-Type", ""), body)
        report = _report(server, parts.get("id", ("", b""))[1].decode())
        if report is None:
            return 200, _response(UNKNOWN_REPORT, "Unknown or closed report id")
        filename, data = parts.get("file", ("", b""))
        if not data:
            return 400, _response(VALIDATION_FAILED, "No file")
        with server._lock:
            file_id = f"f{len(report.files) + 1:04d}-{hashlib.sha256(data).hexdigest()[:8]}"
            report.files[file_id] = {"name": filename, "data": data, "details": None}
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return 200, _response(0, reportId=_id_of(server, report), fileId=file_id, hash=md5)

    if path == "fileinfo":
        document, errors = _validate(body)
        if document is None or document.tag != "fileDetails":
            return 200, _response(VALIDATION_FAILED, f"fileDetails XML is invalid: {errors}")
        report = _report(server, document.findtext("reportId"))
        file_id = document.findtext("fileId")
        if report is None or file_id not in report.files:
            return 200, _response(UNKNOWN_REPORT, "Unknown report or file id")
        report.files[file_id]["details"] = body
        return 200, _response(0, reportId=_id_of(server, report))

    form = urllib.parse.parse_qs(body.decode())
    report = _report(server, (form.get("id") or [""])[0])
    if report is None:
        return 200, _response(UNKNOWN_REPORT, "Unknown or closed report id")
    if path == "finish":
        report.finished = True
        return 200, _done(_id_of(server, report), list(report.files))
    if path == "retract":
        report.retracted = True
        return 200, _response(0, reportId=_id_of(server, report))
    return 404, b"not found"


def _report(server: FakeCyberTipline, raw_id) -> FakeReport | None:
    try:
        report = server.reports.get(int(raw_id))
    except (TypeError, ValueError):
        return None
    # A finished or retracted report takes nothing more.
    if report is None or report.finished or report.retracted:
        return None
    return report


def _id_of(server: FakeCyberTipline, report: FakeReport) -> int:
    return next(rid for rid, r in server.reports.items() if r is report)


def _authorised(headers) -> bool:
    value = headers.get("Authorization", "")
    if not value.startswith("Basic "):
        return False
    try:
        return b64decode(value[6:]).decode() == f"{USERNAME}:{PASSWORD}"
    except ValueError:
        return False


def start(server: FakeCyberTipline) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if len(body) < length:
                return  # the client went away mid-request: like a real server, take nothing
            path = self.path.rstrip("/").rsplit("/", 1)[-1]
            authorised = _authorised(self.headers)
            server.requests.append(Request(path=path, body=body, authorised=authorised))
            if authorised:
                status, answer = handle(server, path, self.headers, body)
            else:
                status, answer = 401, b"Unauthorized"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/ispws"
    serve_in_thread(httpd)
    return httpd
