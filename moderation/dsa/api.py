"""Statements of reasons API: each restricting decision in the EU DSA Transparency Database's
fields, for the platform to submit (moderation/dsa/selectors.py says where every field comes from)."""

from datetime import UTC, datetime

from ninja import Field, Query, Router, Schema, Status
from pydantic import model_serializer

from lib.api import ERRORS, ApiError
from moderation.dsa import schema as dsa_schema
from moderation.dsa import selectors as dsa
from moderation.dsa.access import api_statements_caller

router = Router(tags=["transparency"])

MAX_PAGE = 500
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class StatementOut(Schema):
    """Exactly what the Transparency Database's `POST /api/v1/statement` takes; fields that do
    not apply are left out."""

    decision_visibility: list[str] | None = None
    end_date_visibility_restriction: str | None = None
    decision_account: str | None = None
    end_date_account_restriction: str | None = None
    decision_ground: str
    decision_ground_reference_url: str | None = None
    illegal_content_legal_ground: str | None = None
    illegal_content_explanation: str | None = None
    incompatible_content_ground: str | None = None
    incompatible_content_explanation: str | None = None
    category: str
    category_specification: list[str] | None = None
    content_type: list[str]
    content_type_other: str | None = None
    content_language: str | None = None
    content_date: str
    territorial_scope: list[str]
    application_date: str
    decision_facts: str
    source_type: str
    automated_detection: str
    automated_decision: str
    puid: str

    @model_serializer(mode="wrap")
    def _leave_out_what_does_not_apply(self, handler):
        # The database's API refuses some fields sent as null: they are left out instead.
        return {k: v for k, v in handler(self).items() if v is not None}


class StatementOfReasonsOut(Schema):
    id: str = Field(description="decision-<id> or action-<id> (an automated bank action).")
    decision_id: int | None
    action_id: int | None
    case_id: int
    content_id: str = Field(description="The platform's id for the content ('' if unknown).")
    decided_at: datetime
    overturned_on_appeal: bool
    statement: StatementOut


class StatementPage(Schema):
    items: list[StatementOfReasonsOut]
    next: str | None = Field(description="Cursor for the next page; null on the last page.")


class PageParams(Schema):
    since: datetime | None = Field(None, description="Decisions at or after (ISO 8601).")
    until: datetime | None = Field(None, description="Decisions before (ISO 8601).")
    cursor: str = Field("", max_length=200, description="`next` from the previous page.")
    limit: int = Field(100, ge=1, le=MAX_PAGE)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ApiError(
            422, "invalid_request", f"'{name}' needs a time zone, e.g. 2026-11-01T00:00:00Z."
        )
    # Within the statements' span: at the ends of the calendar (0001-01-01T00:00+05:00) a time
    # has no UTC equivalent for the database, and no decision lies outside the span anyway.
    return min(max(moment, EARLIEST), LATEST)


def _out(envelope: dict) -> dict:
    return {**envelope, "statement": dsa_schema.api_statement(envelope["statement"])}


@router.get(
    "/statements-of-reasons",
    response={200: StatementPage, **ERRORS},
    summary="Statements of reasons for restricting decisions, oldest first",
)
def list_statements(request, params: Query[PageParams]):
    """Needs the `read` scope, on the platform's account or a supervisor's. One item per
    decision that removed or restricted content (remove, age-restrict, suspend, escalate) and
    per automated action of a known-material bank, in the EU DSA Transparency Database's fields
    under `statement`. Decisions later overturned stay listed (the restriction was applied),
    with the end date of the restriction. Filter by decision time with `since` (inclusive) and
    `until` (exclusive); page with `next` (keyset: stable while decisions are added)."""
    api_statements_caller(request)
    since = _aware(params.since, "since") if params.since else EARLIEST
    until = _aware(params.until, "until") if params.until else LATEST
    if since >= until:
        raise ApiError(422, "invalid_request", "'since' must be before 'until'.")
    try:
        items, cursor = dsa.statements_page(
            since=since, until=until, cursor=params.cursor, limit=params.limit
        )
    except dsa.BadCursor as e:
        raise ApiError(400, "bad_cursor", str(e)) from None
    return Status(200, {"items": [_out(i) for i in items], "next": cursor})


@router.get(
    "/decisions/{decision_id}/statement-of-reasons",
    response={200: StatementOfReasonsOut, **ERRORS},
    summary="The statement of reasons for one decision",
)
def get_statement(request, decision_id: int):
    """Needs the `read` scope, on the platform's account or a supervisor's. 404 when the
    decision does not exist or restricts nothing (no violation, a warning, a safety notice, a
    referral to senior review)."""
    api_statements_caller(request)
    envelope = dsa.statement_for_decision(decision_id)
    if envelope is None:
        raise ApiError(
            404,
            "not_found",
            f"Decision {decision_id} restricts nothing, or does not exist: no statement of reasons.",
        )
    return Status(200, _out(envelope))
