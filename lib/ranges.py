"""Serving a file with HTTP Range support (RFC 9110 section 14), so a browser's video player can
seek: 206 Partial Content for one satisfiable byte range, 416 for a range the file cannot
satisfy or that makes no sense, the whole file (200) without a Range header.

One range only: several ranges in one header (multipart/byteranges, which no media player asks
for) are answered with the whole file, as the RFC lets a server ignore Range.
"""

import re

from django.http import FileResponse, HttpResponse, StreamingHttpResponse

BLOCK = 64 * 1024
_BYTES = re.compile(r"^\s*bytes\s*=\s*(.*)$", re.IGNORECASE)
_SPEC = re.compile(r"^(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    """The Range header asks for bytes the file does not have, or is malformed."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte positions a Range header asks for, or None to send the
    whole file (no header, another unit, several ranges). Raises Unsatisfiable."""
    if not header:
        return None
    match = _BYTES.match(header)
    if match is None:
        return None  # a unit we do not know: ignore the header
    specs = [s.strip() for s in match.group(1).split(",")]
    if len(specs) > 1:
        if all(_SPEC.match(s) for s in specs):
            return None
        raise Unsatisfiable(header)
    spec = _SPEC.match(specs[0])
    if spec is None or spec.group(0) == "-":
        raise Unsatisfiable(header)
    first, last = spec.groups()
    if first == "":
        # "-N": the last N bytes.
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if end < start or start >= size:
        raise Unsatisfiable(header)
    return start, min(end, size - 1)


def _slice(handle, start: int, length: int):
    try:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(BLOCK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


def ranged_file_response(request, handle, *, content_type: str) -> HttpResponse:
    """Serve the open binary file `handle` (closed by the response) whole or in part, as the
    request's Range header asks."""
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    try:
        wanted = byte_range(request.headers.get("Range", ""), size)
    except Unsatisfiable:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    if wanted is None:
        response = FileResponse(handle, content_type=content_type)
    else:
        start, end = wanted
        response = StreamingHttpResponse(
            _slice(handle, start, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response
