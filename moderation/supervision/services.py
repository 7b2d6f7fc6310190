"""Writes for the transparency report and the research export: the audit record of a download."""

from datetime import datetime

from django.db import transaction

from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record


def transparency_export_record(
    *, user, since: datetime, until: datetime, fmt: str, ip: str | None = None
) -> AuditEvent:
    """Record that `user` downloaded the transparency report for [since, until) as `fmt`."""
    with transaction.atomic(durable=True):
        return audit_record(
            verb="transparency.exported",
            obj=user,
            actor=user,
            after={"since": since.isoformat(), "until": until.isoformat(), "format": fmt},
            ip=ip,
        )


def research_export_record(
    *,
    user,
    since: datetime,
    until: datetime,
    fmt: str,
    rows: int,
    cases: int,
    suppressed: int,
    k: int,
    ip: str | None = None,
) -> AuditEvent:
    """Record that `user` exported the research dataset: written before the first byte goes
    out, so a download cut short is still on record. `rows` are the published groups, `cases`
    the cases they hold and `suppressed` the cases left out in groups smaller than `k`."""
    with transaction.atomic(durable=True):
        return audit_record(
            verb="research.exported",
            obj=user,
            actor=user,
            after={
                "since": since.isoformat(),
                "until": until.isoformat(),
                "format": fmt,
                "rows": rows,
                "cases": cases,
                "suppressed": suppressed,
                "k": k,
            },
            ip=ip,
        )
