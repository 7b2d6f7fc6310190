"""Writes on exchanges besides the sync itself: asking for a sync (on demand, or by the
schedule), and changing an exchange's settings from the console."""

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from moderation.audit.services import audit_record
from moderation.exchanges.jobs import send_exchange_feedback, sync_exchange
from moderation.exchanges.models import Exchange, ExchangeFeedback
from moderation.outbox.services import enqueue, enqueue_many

# How many due feedback items one scheduled pass hands to the workers.
FEEDBACK_PER_PASS = 500


def exchange_sync_request(*, exchange: Exchange, user, ip: str | None = None) -> None:
    """A person asks for a sync now (whatever the schedule and any backoff)."""
    with transaction.atomic(durable=True):
        audit_record(
            verb="exchange.sync_requested", obj=exchange, actor=user, ip=ip, after={"by": "hand"}
        )
        enqueue(sync_exchange, exchange.pk, "manual", user.pk)


def exchanges_enqueue_due(*, now=None) -> int:
    """The schedule's pass (the periodic run, every five minutes): a sync for each enabled
    exchange whose interval has passed and whose backoff is over, and the feedback whose next
    attempt is due. Returns how many syncs were asked for."""
    now = now or timezone.now()
    due = []
    for exchange in Exchange.objects.filter(is_enabled=True, sync_every_minutes__gt=0).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ):
        interval = timezone.timedelta(minutes=exchange.sync_every_minutes)
        running = exchange.sync_lease and exchange.sync_lease_until > now
        recent = exchange.last_synced_at and exchange.last_synced_at + interval > now
        # A failed sync whose backoff has passed is tried again without waiting for the interval.
        if running or (recent and not exchange.failures):
            continue
        due.append(exchange.pk)
    feedback = list(
        ExchangeFeedback.objects.filter(
            status=ExchangeFeedback.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:FEEDBACK_PER_PASS]
    )
    with transaction.atomic(durable=True):
        enqueue_many(sync_exchange, [(pk, "schedule", None) for pk in due])
        # Pushed back a little: a pass that comes again before the job ran does not send twice.
        ExchangeFeedback.objects.filter(pk__in=feedback).update(
            next_attempt_at=F("next_attempt_at") + timezone.timedelta(minutes=5)
        )
        enqueue_many(send_exchange_feedback, [(pk,) for pk in feedback])
    return len(due)
