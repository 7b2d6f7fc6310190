"""Feedback to the programmes: a reviewer's decision on media an exchange's entry matched is that
programme's feedback on the entry (does the material match what the entry says?), where the
programme takes feedback and the exchange is set to send it.

Queued with the decision, in its transaction (one row per entry and decision: a decision is sent
once, however often the job runs), and sent by a job after commit; a programme that is down or
slow is retried with backoff by the schedule (moderation/exchanges/services.py), up to
MAX_ATTEMPTS; a refusal (credentials, a verdict the programme cannot take) is given up at once;
a row given up is marked failed for a supervisor to see. Nothing personal goes: the
programme's own id for its entry, the hash, and agree or disagree.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.banks.models import Match
from moderation.exchanges.clients import client_class, client_for
from moderation.exchanges.clients.base import (
    ExchangeError,
    ExchangeRateLimited,
    ExchangeUnavailable,
    FeedbackItem,
    Signal,
)
from moderation.exchanges.jobs import send_exchange_feedback
from moderation.exchanges.models import ExchangeFeedback
from moderation.outbox.services import enqueue_many

MAX_ATTEMPTS = 8
BACKOFF_SECONDS = [60, 5 * 60, 15 * 60, 60 * 60, 3 * 60 * 60, 6 * 60 * 60, 12 * 60 * 60]


@in_transaction
def feedback_queue_for_decision(*, decision, upheld: bool) -> int:
    """Queue feedback on every exchange entry that matched the decided case's media (not those
    suppressed by an allow-list or withdrawn at source). `upheld`: the decision found the
    material violating (agree) or not (disagree). Returns how many were queued."""
    matches = (
        Match.objects.filter(
            Q(media__report__case=decision.case) | Q(media__flag__case=decision.case),
            entry__exchange__isnull=False,
            entry__exchange__send_feedback=True,
            suppressed_by__isnull=True,
            withdrawn_at__isnull=True,
        )
        .select_related("entry__exchange")
        .order_by("entry_id")
    )
    verdict = ExchangeFeedback.Verdict.AGREE if upheld else ExchangeFeedback.Verdict.DISAGREE
    rows = []
    for entry in {m.entry_id: m.entry for m in matches}.values():
        if not client_class(entry.exchange.kind).takes_feedback:
            continue
        rows.append(
            ExchangeFeedback(
                exchange=entry.exchange, entry=entry, decision=decision, verdict=verdict
            )
        )
    created = ExchangeFeedback.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        ExchangeFeedback.objects.filter(
            decision=decision, status=ExchangeFeedback.Status.PENDING
        ).values_list("pk", flat=True)
    )
    enqueue_many(send_exchange_feedback, [(pk,) for pk in ids])
    return len(created)


def feedback_send(*, feedback_id: int) -> ExchangeFeedback | None:
    """Send one verdict if it is still waiting. Sent once: the row is locked while it goes, and a
    sent or failed row is left alone."""
    with transaction.atomic(durable=True):
        feedback = (
            ExchangeFeedback.objects.select_for_update(skip_locked=True)
            .select_related("exchange", "entry")
            .filter(pk=feedback_id, status=ExchangeFeedback.Status.PENDING)
            .first()
        )
        if feedback is None:
            return None  # sent, given up, or being sent by another worker right now
        entry = feedback.entry
        item = FeedbackItem(
            source_id=entry.source_id,
            signal=Signal(entry.signal_type, entry.value),
            verdict=feedback.verdict,
            labels=tuple(entry.labels or ()),
        )
        now = timezone.now()
        feedback.attempts += 1
        try:
            client_for(feedback.exchange).send_feedback(item)
        except ExchangeError as e:
            feedback.last_error = str(e)[:2000]
            # Only the programme being down or slowing us down is worth trying again; a refusal
            # (credentials, a verdict it cannot take) would be refused again.
            transient = isinstance(e, ExchangeUnavailable | ExchangeRateLimited)
            given_up = not transient or feedback.attempts >= MAX_ATTEMPTS
            if given_up:
                feedback.status = ExchangeFeedback.Status.FAILED
            wait = BACKOFF_SECONDS[min(feedback.attempts, len(BACKOFF_SECONDS)) - 1]
            if isinstance(e, ExchangeRateLimited):
                wait = max(wait, e.retry_after)
            feedback.next_attempt_at = now + timedelta(seconds=wait)
        else:
            feedback.status = ExchangeFeedback.Status.SENT
            feedback.sent_at = now
            feedback.last_error = ""
        feedback.save()
        audit_record(
            # exchange.feedback_sent, _failed (given up) or _pending (to be tried again).
            verb=f"exchange.feedback_{feedback.status}",
            obj=feedback.exchange,
            actor_label=f"exchange {feedback.exchange.slug}",
            after={
                "feedback": feedback.pk,
                "entry": entry.pk,
                "verdict": feedback.verdict,
                "attempts": feedback.attempts,
                "status": feedback.status,
                **({"error": feedback.last_error[:300]} if feedback.last_error else {}),
            },
        )
    return feedback
