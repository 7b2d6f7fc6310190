"""Writes for statements of reasons: the audit record of an export (moderation/dsa/selectors.py reads)."""

from datetime import datetime

from django.db import transaction

from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record


def statements_export_record(
    *, user, since: datetime, until: datetime, rows: int, ip: str | None = None
) -> AuditEvent:
    """Record that `user` exported the statements of reasons for [since, until).

    Written before the first byte goes out, so a download cut short is still on record. `rows`
    is how many statements the period holds as the export starts: the period ends no later than
    that moment, and decisions are never back-dated, so the file carries exactly that many."""
    with transaction.atomic(durable=True):
        return audit_record(
            verb="dsa.exported",
            obj=user,
            actor=user,
            after={
                "since": since.isoformat(),
                "until": until.isoformat(),
                "rows": rows,
                "format": "csv",
            },
            ip=ip,
        )
