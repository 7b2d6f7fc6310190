import csv
import ipaddress

from django.conf import settings
from django.http import StreamingHttpResponse


def client_ip(request) -> str | None:
    """The address the request came from.

    Behind VIGIL_TRUSTED_PROXIES proxies (each appending to X-Forwarded-For), the client is the
    address the outermost trusted proxy saw: that many hops from the right. Anything further left
    is whatever the client chose to send, and is never believed.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXIES
    if not hops:
        return remote
    forwarded = [
        a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()
    ]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def rate_limit_key(ip: str | None) -> str:
    """Whom to count a request against: an IPv4 address, or an IPv6 /64 (one subscriber's
    network: a single home or phone gets a whole /64 and could otherwise rotate through it)."""
    if not ip:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class _Echo:
    """A file that hands back what is written to it, so csv.writer formats one row at a time."""

    def write(self, value):
        return value


def csv_response(rows, *, filename: str) -> StreamingHttpResponse:
    """Stream `rows` (an iterable of lists, header first) as a CSV download: formatted a row at a
    time, so memory stays bounded however many rows the iterable fetches."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
