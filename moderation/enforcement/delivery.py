"""Delivering enforcement actions to the platform, and reversing them. Vigil records; the platform
enforces.

Each action gets a WebhookDelivery when it is requested (and another if it is reversed), and a
`deliver_action` job (moderation/jobs.py) after commit. One attempt at a time per delivery:
- 2xx: delivered.
- 4xx other than 408/429: failed at once. The platform refused it; sending it again unchanged will
  not help. A supervisor sees it and can re-send it once the cause is fixed.
- no answer, a timeout, 5xx, 408 or 429: tried again after the next of
  PLATFORM_WEBHOOK_RETRY_INTERVALS (RQ re-runs the job: it returns an RQ `Retry`); after the last
  interval, failed.
In the embedded mode (no Redis, so no RQ to wait for a retry) the first attempt runs in-process
after commit and later ones are made by `deliveries_sweep`, which runs those that are due: every
15 seconds in the server's background scheduler (moderation/periodic/embedded.py), or by
`manage.py deliver_actions`.
With Redis, the relay loop's sweep queues again any pending delivery long overdue, whose job Redis
lost. Nothing is dropped: a delivery is pending until it is delivered, failed (visible on the
supervisor's deliveries page) or cancelled by a reversal.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.cases.access import user_may_view_case
from moderation.enforcement import webhooks
from moderation.enforcement.jobs import deliver_action
from moderation.enforcement.models import DeliveryAttempt, EnforcementAction, WebhookDelivery
from moderation.enforcement.payload import build_payload
from moderation.outbox.services import enqueue

logger = logging.getLogger(__name__)

ACTOR = "webhook delivery"
# With Redis, RQ owns the retry schedule; a pending delivery this far past its due time has lost
# its job and is queued again by the sweep.
LOST_AFTER = timedelta(minutes=5)
# A retry may run this much before its time (clocks of workers and database differ a little).
EARLY_SLACK = timedelta(seconds=5)


class DeliveryError(Exception):
    """A re-send or reversal that cannot be done, with a message for the person who asked."""


def delivery_configured() -> bool:
    return bool(settings.PLATFORM_WEBHOOK_URL)


def max_attempts() -> int:
    return 1 + len(settings.PLATFORM_WEBHOOK_RETRY_INTERVALS)


@in_transaction
def delivery_queue(*, action: EnforcementAction, event: str) -> WebhookDelivery:
    """Create the delivery of an event about an action and queue its first attempt. Call inside
    the transaction that records the event: the job runs only once it has committed."""

    delivery = WebhookDelivery.objects.create(
        action=action, event=event, next_attempt_at=timezone.now()
    )
    enqueue(deliver_action, action.pk, event)
    return delivery


@dataclass(frozen=True)
class Attempted:
    """What one run of the job did: nothing (None), or the outcome and, to retry, when."""

    outcome: str
    retry_in: int | None = None


def delivery_attempt(*, action_id: int, event: str) -> Attempted | None:
    """Make one attempt at a pending delivery. None when there was nothing to do: delivery is not
    configured, the delivery is no longer pending (idempotent: a job run twice sends once), or
    another worker is sending it at this moment.

    The row stays locked while the request is in flight, so two workers never send one delivery
    at once and a worker that dies mid-request leaves the delivery pending for the sweep, exactly
    as before it started. Timeouts are short, so the lock is too.
    """
    if not delivery_configured():
        return None
    with transaction.atomic(durable=True):
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("action__case__content_item", "action__decision")
            .filter(action_id=action_id, event=event)
            .first()
        )
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return None
        if delivery.next_attempt_at > timezone.now() + EARLY_SLACK:
            # A copy of the job (handed over twice) ahead of the schedule: the job due then runs it.
            return None
        body = json.dumps(build_payload(delivery), separators=(",", ":"), sort_keys=True).encode()
        started_at = timezone.now()
        answer = webhooks.post(
            url=settings.PLATFORM_WEBHOOK_URL,
            body=body,
            headers={
                webhooks.SIGNATURE_HEADER: webhooks.signature(
                    secret=settings.PLATFORM_WEBHOOK_SECRET,
                    timestamp=int(time.time()),
                    body=body,
                ),
                "Vigil-Delivery": str(delivery.uuid),
                "Vigil-Event": delivery.event,
                "Idempotency-Key": str(delivery.uuid),
            },
            timeout=settings.PLATFORM_WEBHOOK_TIMEOUT_SECONDS,
        )
        return _record(delivery, answer, started_at)


def _record(delivery: WebhookDelivery, answer: webhooks.Answer, started_at) -> Attempted:
    now = timezone.now()
    delivery.attempts += 1
    delivery.attempts_total += 1
    delivery.last_attempt_at = started_at
    delivery.last_result = answer.describe()[:300]
    retry_in = None
    if answer.delivered:
        outcome = DeliveryAttempt.Outcome.DELIVERED
    elif answer.retryable and delivery.attempts < max_attempts():
        outcome = DeliveryAttempt.Outcome.RETRY
        retry_in = settings.PLATFORM_WEBHOOK_RETRY_INTERVALS[delivery.attempts - 1]
    else:
        outcome = DeliveryAttempt.Outcome.FAILED
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts_total,
        started_at=started_at,
        duration_ms=answer.duration_ms,
        http_status=answer.http_status,
        error=answer.error[:300],
        outcome=outcome,
    )
    if outcome == DeliveryAttempt.Outcome.RETRY:
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        delivery.save()
        return Attempted(outcome, retry_in)

    delivery.status = (
        WebhookDelivery.Status.DELIVERED
        if outcome == DeliveryAttempt.Outcome.DELIVERED
        else WebhookDelivery.Status.FAILED
    )
    delivery.next_attempt_at = None
    delivery.delivered_at = now if outcome == DeliveryAttempt.Outcome.DELIVERED else None
    delivery.save()
    action = delivery.action
    if delivery.event == WebhookDelivery.Event.REQUESTED:
        # A reversed action keeps its status; the delivery row says what became of the request.
        EnforcementAction.objects.filter(pk=action.pk).exclude(
            status=EnforcementAction.Status.REVERSED
        ).update(status=delivery.status)
    audit_record(
        verb=f"action.{'delivered' if outcome == DeliveryAttempt.Outcome.DELIVERED else 'delivery_failed'}",
        obj=action,
        case=action.case,
        actor_label=ACTOR,
        after={
            "event": delivery.event,
            "delivery": str(delivery.uuid),
            "attempts": delivery.attempts,
            "result": delivery.last_result,
        },
    )
    return Attempted(outcome)


def delivery_resend(*, delivery_id: int, user, ip: str | None = None) -> WebhookDelivery:
    """Queue a failed delivery again, with a fresh retry schedule and the same delivery id (so the
    platform acts on it once even if an earlier attempt did reach it)."""
    with transaction.atomic(durable=True):
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("action__case")
            .get(pk=delivery_id)
        )
        if delivery.status != WebhookDelivery.Status.FAILED:
            raise DeliveryError(
                f"Only a failed delivery can be re-sent; this one is {delivery.get_status_display().lower()}."
            )
        action = delivery.action
        if delivery.event == WebhookDelivery.Event.REQUESTED:
            if action.status == EnforcementAction.Status.REVERSED:
                raise DeliveryError("This action has been reversed: there is nothing to re-send.")
            try:
                with transaction.atomic():
                    EnforcementAction.objects.filter(pk=action.pk).update(
                        status=EnforcementAction.Status.PENDING
                    )
            except IntegrityError:
                raise DeliveryError(
                    "The same action on the same target is already pending for this case: "
                    "that one will be delivered instead."
                ) from None
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        audit_record(
            verb="action.delivery_resent",
            obj=action,
            case=action.case,
            actor=user,
            before={"event": delivery.event, "status": delivery.status},
            after={"event": delivery.event, "status": WebhookDelivery.Status.PENDING},
            ip=ip,
        )

        enqueue(deliver_action, action.pk, delivery.event)
    delivery.refresh_from_db()
    return delivery


REVERSAL_SOURCES = ("review", "appeal")


def action_reverse(
    *, action_id: int, user, reason: str, source: str = "review", ip: str | None = None
) -> EnforcementAction:
    """Reverse an action: Vigil records it reversed and tells the platform to undo it.

    `user` must be able to see the action's case (a reviewer with access to its queue, or a
    supervisor). `reason` stays in Vigil; the platform is told only `source` ("review", or
    "appeal" when an upheld appeal overturns the decision). A request the platform never
    received is cancelled instead, and nothing is sent.
    """
    if not reason.strip():
        raise DeliveryError("Say why the action is reversed.")
    with transaction.atomic(durable=True):
        action = (
            EnforcementAction.objects.select_for_update(of=("self",))
            .select_related("case")
            .get(pk=action_id)
        )
        if not user_may_view_case(user, action.case):
            raise PermissionDenied
        if action.status == EnforcementAction.Status.REVERSED:
            raise DeliveryError("This action has already been reversed.")
        reverse_in_transaction(action=action, user=user, reason=reason, source=source, ip=ip)
    return action


@in_transaction
def reverse_in_transaction(
    *, action: EnforcementAction, user, reason: str, source: str, ip: str | None = None
) -> None:
    """The reversal itself, for services that already decided it may happen (an overturned
    decision's actions, say). Call inside a transaction, with the action's row locked."""
    if source not in REVERSAL_SOURCES:
        raise ValueError(f"source must be one of {REVERSAL_SOURCES}")
    # Waits for an attempt in flight, so what it did is known before deciding what to send.
    request = (
        WebhookDelivery.objects.select_for_update()
        .filter(action=action, event=WebhookDelivery.Event.REQUESTED)
        .first()
    )
    # Sent at least once: the platform may have acted on it even if no answer came back.
    may_have_reached = request is None or request.attempts_total > 0
    if request is not None and request.status == WebhookDelivery.Status.PENDING:
        # Never carry out what was reversed, even if a retry is still due.
        request.status = WebhookDelivery.Status.CANCELLED
        request.next_attempt_at = None
        request.save(update_fields=["status", "next_attempt_at"])
    before = {"status": action.status}
    action.status = EnforcementAction.Status.REVERSED
    action.reversed_at = timezone.now()
    action.reversed_by = user
    action.reversal_reason = reason.strip()[:500]
    action.reversal_source = source
    action.save(
        update_fields=["status", "reversed_at", "reversed_by", "reversal_reason", "reversal_source"]
    )
    if may_have_reached:
        delivery_queue(action=action, event=WebhookDelivery.Event.REVERSED)
    audit_record(
        verb="action.reversed",
        obj=action,
        case=action.case,
        actor=user,
        before=before,
        after={
            "status": action.status,
            "kind": action.kind,
            "reason": action.reversal_reason,
            "source": source,
            "platform_told": may_have_reached,
        },
        ip=ip,
    )


def deliveries_sweep(*, limit: int = 200) -> int:
    """Make sure every due pending delivery gets its attempt. Returns how many were handled.

    Embedded mode: makes the attempts that are due, here. With Redis: queues again the deliveries
    long overdue (their job was lost); RQ's own retries are not overdue and are left alone.
    """
    if not delivery_configured():
        return 0
    now = timezone.now()
    due_before = now if settings.JOBS_EAGER else now - LOST_AFTER
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=due_before
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "action_id", "event")[:limit]
    )
    if settings.JOBS_EAGER:
        for _, action_id, event in due:
            delivery_attempt(action_id=action_id, event=event)
        return len(due)

    for pk, action_id, event in due:
        with transaction.atomic(durable=True):
            # Not due again until the new job has had time to run: one re-queue per lost job.
            moved = WebhookDelivery.objects.filter(
                pk=pk, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=due_before
            ).update(next_attempt_at=now)
            if moved:
                enqueue(deliver_action, action_id, event)
    if due:
        logger.warning("queued %d overdue webhook deliveries again", len(due))
    return len(due)
