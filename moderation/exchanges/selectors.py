"""Reads for the exchanges' pages: each exchange with its latest sync and its feedback counts,
in a fixed number of queries whatever the number of exchanges and syncs."""

import os

from django.db.models import Count, OuterRef, Q, Subquery

from moderation.exchanges.models import Exchange, ExchangeFeedback, ExchangeSync

SYNCS_SHOWN = 20
FAILED_FEEDBACK_SHOWN = 20


def _feedback_counts():
    fb = ExchangeFeedback.Status
    return {
        "feedback_pending": Count("feedback", filter=Q(feedback__status=fb.PENDING)),
        "feedback_sent": Count("feedback", filter=Q(feedback__status=fb.SENT)),
        "feedback_failed": Count("feedback", filter=Q(feedback__status=fb.FAILED)),
    }


def exchanges_overview() -> list[Exchange]:
    """Every exchange, by name, with `latest` (its newest sync, or None) and feedback counts.
    Two queries."""
    latest = ExchangeSync.objects.filter(exchange=OuterRef("pk")).order_by("-started_at", "-pk")
    exchanges = list(
        Exchange.objects.select_related("bank")
        .annotate(latest_id=Subquery(latest.values("pk")[:1]), **_feedback_counts())
        .order_by("name", "pk")
    )
    syncs = ExchangeSync.objects.in_bulk([e.latest_id for e in exchanges if e.latest_id])
    for exchange in exchanges:
        exchange.latest = syncs.get(exchange.latest_id)
        exchange.credentials_set = credentials_set(exchange)
    return exchanges


def exchange_detail(exchange_id: int) -> Exchange | None:
    exchange = (
        Exchange.objects.select_related("bank")
        .annotate(**_feedback_counts())
        .filter(pk=exchange_id)
        .first()
    )
    if exchange is None:
        return None
    exchange.credentials_set = credentials_set(exchange)
    exchange.recent_syncs = list(
        exchange.syncs.select_related("requested_by").order_by("-started_at", "-pk")[:SYNCS_SHOWN]
    )
    exchange.failed_feedback = list(
        exchange.feedback.filter(status=ExchangeFeedback.Status.FAILED)
        .select_related("entry", "decision")
        .order_by("-created_at", "-pk")[:FAILED_FEEDBACK_SHOWN]
    )
    return exchange


def credentials_set(exchange: Exchange) -> bool | None:
    """Whether any of its credentials are in this server's environment (None: it needs none).
    Only whether: the page never names the variables or shows a value."""
    prefix = exchange.credentials_env
    if not prefix:
        return None
    return any(key.startswith(f"{prefix}_") and value for key, value in os.environ.items())
