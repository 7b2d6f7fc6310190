"""Partner platforms' feed tokens: made, revoked and used (docs/feeds.md).

A feed token reads the published banks it names and nothing else. It is not an API token: it has
its own prefix, its own table and its own authentication (moderation/exchanges/feed_api.py), so it opens
no other endpoint and an API token opens no feed. Only its SHA-256 is stored (accounts' hash_token,
as for API tokens); the token itself is shown once.
"""

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import hash_token
from moderation.audit.services import audit_record
from moderation.banks.models import HashBank
from moderation.exchanges.models import FeedToken

# Not "vgl_": API authentication only looks at tokens with that prefix, so a feed token never
# reaches it (and the other way round, an API token's hash is never in this table).
FEED_TOKEN_PREFIX = "vglf_"  # noqa: S105 - a marker, not a secret
# last_used_at answers "is this partner still reading?": a minute's precision spares a write on
# every page of a long catch-up.
LAST_USED_PRECISION = timedelta(minutes=1)


class FeedTokenRefused(Exception):
    pass


def feed_token_create(
    *, name: str, banks: list[HashBank], user=None, actor_label: str = ""
) -> tuple[FeedToken, str]:
    """A token for a partner reading `banks` (each must be published). Returns the row and the
    token itself, which is not stored and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise FeedTokenRefused("A feed token needs a name (who it is for).")
    banks = list({b.pk: b for b in banks}.values())
    if not banks:
        raise FeedTokenRefused("A feed token needs at least one bank.")
    unpublished = sorted(b.slug for b in banks if not b.is_published)
    if unpublished:
        raise FeedTokenRefused(
            f"Not published: {', '.join(unpublished)}. Publish a bank before giving it out."
        )
    token = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        if FeedToken.objects.filter(name=name, revoked_at__isnull=True).exists():
            raise FeedTokenRefused(f"A feed token named {name!r} is in use; revoke it first.")
        row = FeedToken.objects.create(name=name, token_hash=hash_token(token), created_by=user)
        row.banks.set(banks)
        audit_record(
            verb="feedtoken.created",
            obj=row,
            actor=user,
            actor_label="" if user else (actor_label or "manage.py"),
            after={"name": name, "banks": sorted(b.slug for b in banks)},
        )
    return row, token


def feed_token_revoke(*, token: FeedToken, user=None, actor_label: str = "") -> bool:
    """Revoke it: its next request is refused. Returns whether it was still in force."""
    with transaction.atomic(durable=True):
        updated = FeedToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            audit_record(
                verb="feedtoken.revoked",
                obj=token,
                actor=user,
                actor_label="" if user else (actor_label or "manage.py"),
                after={"name": token.name},
            )
    return bool(updated)


def feed_token_for(raw: str) -> FeedToken | None:
    """The token in force that `raw` is, or None. Looked up by its hash: nothing to compare in
    constant time, and a revoked token is as unknown as a wrong one."""
    if not raw.startswith(FEED_TOKEN_PREFIX):
        return None
    return FeedToken.objects.filter(token_hash=hash_token(raw), revoked_at__isnull=True).first()


def feed_bank_for(token: FeedToken, slug: str) -> HashBank | None:
    """The bank `slug` if it is published and in the token's scope; None alike for a bank that
    does not exist, is not published, or is not the token's (the partner learns nothing)."""
    return HashBank.objects.filter(slug=slug, is_published=True, feed_tokens=token).first()


def feed_read_record(
    *, token: FeedToken, bank: HashBank, fmt: str, added: int, removed: int, span: dict
) -> None:
    """Record a read. Every read keeps last_used_at current (to the minute). A read that handed
    out hashes is audited with what it handed out (`span`: the checkpoints' marks, from which the
    exact entries can be told again); an empty poll is not, or a partner polling every minute
    would bury the audit log in "nothing new"."""
    now = timezone.now()
    stale = token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION
    if not stale and not (added or removed or fmt == "csv"):
        return
    with transaction.atomic():
        if stale:
            FeedToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        if added or removed or fmt == "csv":
            audit_record(
                verb="feed.read",
                obj=token,
                actor_label=f"feed token {token.name}"[:150],
                after={
                    "bank": bank.slug,
                    "format": fmt,
                    "added": added,
                    "removed": removed,
                    **span,
                },
            )
