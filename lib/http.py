def client_ip(request) -> str | None:
    """The address the request came from. Behind a proxy, the proxy must set REMOTE_ADDR."""
    return request.META.get("REMOTE_ADDR") or None
