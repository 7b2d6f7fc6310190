"""Reads about deliveries to the platform, for the case page and the supervisor's deliveries page.
Each is a bounded number of queries whatever the data size."""

from django.db.models import Case, Count, IntegerField, Prefetch, Value, When

from moderation.enforcement.models import DeliveryAttempt, EnforcementAction, WebhookDelivery

# The supervisor's default view: what needs attention, failed first.
ATTENTION = "attention"
FILTERS = [
    (ATTENTION, "Needs attention (failed, then pending)"),
    *WebhookDelivery.Status.choices,
    ("all", "All"),
]
ATTEMPTS_SHOWN = 100


def case_actions_prefetch() -> Prefetch:
    """A case's actions with their deliveries, for `case.actions.all` on the case page."""
    return Prefetch(
        "actions",
        queryset=EnforcementAction.objects.select_related("reversed_by")
        .prefetch_related(Prefetch("deliveries", queryset=WebhookDelivery.objects.order_by("pk")))
        .order_by("pk"),
    )


def deliveries_list(status: str):
    """Deliveries for the supervisor's page, newest first; by default failed, then pending."""
    deliveries = WebhookDelivery.objects.select_related("action__case")
    if status == ATTENTION:
        rank = Case(
            When(status=WebhookDelivery.Status.FAILED, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return (
            deliveries.filter(
                status__in=[WebhookDelivery.Status.FAILED, WebhookDelivery.Status.PENDING]
            )
            .annotate(rank=rank)
            .order_by("rank", "-id")
        )
    if status in WebhookDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-id")


COUNT_ORDER = ["failed", "pending", "delivered", "cancelled"]


def delivery_counts() -> dict[str, int]:
    """Deliveries by status, failed first (one grouped query)."""
    rows = WebhookDelivery.objects.values("status").annotate(n=Count("pk")).order_by()
    counts = dict.fromkeys(COUNT_ORDER, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def delivery_with_log(delivery_id: int) -> tuple[WebhookDelivery, list[DeliveryAttempt]]:
    delivery = WebhookDelivery.objects.select_related(
        "action__case__content_item", "action__decision", "action__reversed_by"
    ).get(pk=delivery_id)
    attempts = list(delivery.log.order_by("-number")[:ATTEMPTS_SHOWN])
    return delivery, attempts
