"""Test helpers for calling intake services with flat keyword arguments."""

from reports.content import ContentFacts

# The flat names tests use for what a report says about its content, and ContentFacts' names.
CONTENT_FIELDS = {
    "platform_id": "platform_id",
    "content_url": "url",
    "content_type": "type",
    "owner_id": "owner_id",
    "owner_handle": "owner_handle",
    "owner_email": "owner_email",
    "language": "language",
    "reach": "reach",
    "posted_at": "posted_at",
    "publicly_available": "publicly_available",
    "ip_captures": "ip_captures",
}


def intake_fields(**fields) -> dict:
    """`fields` for report_submit / flag_submit, the content's facts gathered in `content`."""
    facts = {CONTENT_FIELDS[k]: fields.pop(k) for k in list(fields) if k in CONTENT_FIELDS}
    return {**fields, "content": ContentFacts(**facts)}
