"""The inbox: what waits on the signed-in person, counted for the navigation on every page.

Each role sees the work only it can do: senior reviewers approve escalations, supervisors submit
packets, retry failed assemblies and submissions, resend failed deliveries and settle re-review
disagreements, and whoever is certified for the appeals queue takes appeals. Everyone sees the
escalation drafts they opened, which wait on them.

Every count is read in one query (one scalar subquery per item) and kept for a short while per
person, so a busy console does not count the same rows on every page: a count a few seconds old
is fine for "something waits", and the list it links to is always read afresh.
"""

from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import QueueCertification
from moderation.banks.models import BankEntry
from moderation.decisions.models import Appeal, ReReview
from moderation.enforcement.models import WebhookDelivery
from moderation.escalations.models import Escalation
from moderation.escalations.selectors import (
    FAILED_ASSEMBLY,
    FAILED_SUBMISSION,
    READY_TO_SUBMIT,
    WORK_FILTERS,
)

S = Escalation.Status
# Long enough to spare the database on a busy console, short enough that work done elsewhere
# disappears from the count before anyone goes looking for it.
CACHE_SECONDS = 30


@dataclass(frozen=True)
class InboxItem:
    key: str
    label: str
    count: int
    url: str


@dataclass(frozen=True)
class Inbox:
    items: list[InboxItem]

    @property
    def total(self) -> int:
        return sum(item.count for item in self.items)


def _items_for(user) -> list[tuple[str, str, QuerySet, str]]:
    """(key, label, rows waiting, where to see them) for what this user may act on."""
    escalations = reverse("escalations")
    items = [
        (
            "drafts",
            "Your escalation drafts",
            Escalation.objects.filter(status=S.DRAFT, opened_by=user),
            f"{escalations}?status={S.DRAFT}&mine=1",
        )
    ]
    if user.has_perm(roles.SENIOR_REVIEW):
        items.append(
            (
                "approval",
                "Escalations awaiting approval",
                Escalation.objects.filter(status=S.AWAITING_APPROVAL),
                f"{escalations}?status={S.AWAITING_APPROVAL}",
            )
        )
    if user.has_perm(roles.SUPERVISE):
        items += [
            (
                "ready",
                "Packets ready to submit",
                Escalation.objects.filter(WORK_FILTERS[READY_TO_SUBMIT]),
                f"{escalations}?status={READY_TO_SUBMIT}",
            ),
            (
                "failed_assembly",
                "Failed assemblies",
                Escalation.objects.filter(WORK_FILTERS[FAILED_ASSEMBLY]),
                f"{escalations}?status={FAILED_ASSEMBLY}",
            ),
            (
                "failed_submission",
                "Failed submissions",
                Escalation.objects.filter(WORK_FILTERS[FAILED_SUBMISSION]),
                f"{escalations}?status={FAILED_SUBMISSION}",
            ),
            (
                "failed_delivery",
                "Failed deliveries",
                WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED),
                f"{reverse('deliveries')}?status={WebhookDelivery.Status.FAILED}",
            ),
            (
                "disagreements",
                "Re-review disagreements",
                ReReview.objects.filter(status=ReReview.Status.DISAGREED),
                reverse("supervise_rereviews"),
            ),
            (
                "quarantined",
                "Quarantined bank entries",
                BankEntry.objects.filter(quarantined_at__isnull=False, removed_at__isnull=True),
                reverse("quarantined_entries"),
            ),
        ]
    # Appeals wait in the appeals queue: counted for whoever is certified to work it.
    certified = QueueCertification.objects.filter(
        user=user, expires_at__gt=timezone.now(), queue__for_appeals=True, queue__is_active=True
    )
    if not user.has_perm(roles.SENIOR_REVIEW):
        certified = certified.filter(queue__senior_only=False)
    items.append(
        (
            "appeals",
            "Appeals waiting",
            Appeal.objects.filter(
                status=Appeal.Status.OPEN,
                case__status="open",
                case__queue_id__in=certified.values("queue_id"),
            ),
            f"{reverse('dashboard')}#appeals",
        )
    )
    return items


def _count_all(querysets: list[QuerySet]) -> list[int]:
    """COUNT(*) of each queryset, all in one round trip: SELECT (SELECT COUNT(*) ...), ..."""
    parts, params = [], []
    for qs in querysets:
        sql, qs_params = qs.order_by().values("pk").query.sql_with_params()
        # The SQL is Django's own compilation of the queryset; values travel as parameters.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS waiting)")  # noqa: S608
        params.extend(qs_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        return list(cursor.fetchone())


def _cache_key(user) -> str:
    return f"vigil:inbox:{user.pk}"


def inbox(user) -> Inbox:
    """What waits on `user`, only the items with something waiting, in the order above."""
    if not user.is_authenticated or not user.has_perm(roles.REVIEW):
        return Inbox(items=[])
    key = _cache_key(user)
    counts = cache.get(key)
    items = _items_for(user)
    # A different number of items: the user's role changed since the counts were kept.
    if counts is None or len(counts) != len(items):
        counts = _count_all([qs for _key, _label, qs, _url in items])
        cache.set(key, counts, CACHE_SECONDS)
    return Inbox(
        items=[
            InboxItem(key=k, label=label, count=n, url=url)
            for (k, label, _qs, url), n in zip(items, counts, strict=True)
            if n
        ]
    )
