"""The reviewer's certifications and sensitive-queue pause, read once per request.

Which queues a reviewer may work is asked several times in one request: the case page asks whether
they may see the case and again whether they may keep it, a decision asks before locking the case,
and "review next" asks before claiming. The answer depends only on the reviewer's certifications,
the queues' flags and the reviewer's pauses, so one query per request reads them all, and each
question is answered from that reading in Python.

Only for the request: the reading is dropped when the request ends, so a certification withdrawn
or a pause set takes effect on the reviewer's next request, whatever process serves it. Outside a
request (jobs, management commands, services called directly) nothing is kept and every question
reads afresh, as before. A certification, pause or queue saved or deleted during the request drops
the reading too, so the rest of that request sees the change.
"""

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from django.core.signals import request_finished, request_started
from django.db.models import Subquery
from django.db.models.signals import post_delete, post_save

from accounts import roles
from accounts.models import QueueCertification, SensitivePause
from moderation.cases.models import Queue


@dataclass(frozen=True)
class Grant:
    queue_id: int
    expires_at: datetime
    senior_only: bool
    sensitive: bool


@dataclass(frozen=True)
class Grants:
    """A reviewer's certifications for active queues and their pause, as read at `as_of`.

    Exact for any `now` at or after `as_of`: it holds every certification still current at
    `as_of` (one that expired before then is expired later too) and the latest end of the pauses
    in force at `as_of` (a pause that had ended by then cannot be in force later).
    """

    as_of: datetime
    grants: tuple[Grant, ...]
    paused_until: datetime | None

    def queue_ids(self, now: datetime, *, senior: bool) -> list[int]:
        """Queues the reviewer may claim from at `now` (senior: may work senior-only queues)."""
        paused = self.paused_until is not None and self.paused_until > now
        return [
            g.queue_id
            for g in self.grants
            if g.expires_at > now
            and (senior or not g.senior_only)
            # A supervisor's wellness pause keeps the reviewer out of sensitive queues.
            and not (paused and g.sensitive)
        ]


# user id -> Grants, for the request being served; None outside a request.
_request_grants: ContextVar[dict[int, Grants] | None] = ContextVar("vigil_grants", default=None)


def _request_begins(**kwargs) -> None:
    _request_grants.set({})


def _request_ends(**kwargs) -> None:
    _request_grants.set(None)


def _forget(**kwargs) -> None:
    # A change to who may work what, made during the request: the rest of it reads afresh.
    if (kept := _request_grants.get()) is not None:
        kept.clear()


request_started.connect(_request_begins, dispatch_uid="vigil-grants-begin")
request_finished.connect(_request_ends, dispatch_uid="vigil-grants-end")
for _model in (QueueCertification, SensitivePause, Queue):
    post_save.connect(_forget, sender=_model, dispatch_uid=f"vigil-grants-{_model.__name__}-save")
    post_delete.connect(_forget, sender=_model, dispatch_uid=f"vigil-grants-{_model.__name__}-del")


def _read(user, now: datetime) -> Grants:
    # One query: the certifications current at `now` for active queues, each row carrying the
    # latest end of the reviewer's pauses in force at `now` (the same value on every row). With no
    # certification there is no row, and no pause to know about either.
    pause_end = (
        SensitivePause.objects.filter(SensitivePause.active_q(now), user=user)
        .order_by("-until")
        .values("until")[:1]
    )
    rows = (
        QueueCertification.objects.filter(user=user, expires_at__gt=now, queue__is_active=True)
        .annotate(paused_until=Subquery(pause_end))
        .order_by("queue_id")
        .values_list(
            "queue_id", "expires_at", "queue__senior_only", "queue__sensitive", "paused_until"
        )
    )
    grants, paused_until = [], None
    for queue_id, expires_at, senior_only, sensitive, until in rows:
        grants.append(Grant(queue_id, expires_at, senior_only, sensitive))
        paused_until = until
    return Grants(as_of=now, grants=tuple(grants), paused_until=paused_until)


def reviewer_grants(user, now: datetime) -> Grants:
    """The reviewer's grants, valid at `now`: read once per request (see the module's note)."""
    kept = _request_grants.get()
    if kept is not None:
        grants = kept.get(user.pk)
        if grants is not None and now >= grants.as_of:
            return grants
    grants = _read(user, now)
    if kept is not None:
        kept[user.pk] = grants
    return grants


def eligible_queue_ids(user, now: datetime) -> list[int]:
    """Queues the user holds a current certification for at `now` (senior-only ones need the
    senior reviewer's permission as well; sensitive ones no wellness pause)."""
    return reviewer_grants(user, now).queue_ids(now, senior=user.has_perm(roles.SENIOR_REVIEW))
