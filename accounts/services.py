"""Writes on accounts: API tokens."""

from django.db import transaction
from django.utils import timezone

from accounts.api import forget_principals
from accounts.models import ApiToken, hash_token
from accounts.roles import scopes_allowed
from moderation.audit.services import audit_record


class TokenRefused(Exception):
    pass


def api_token_create(
    *,
    user,
    name: str,
    scopes: list[str] | None = None,
    rate_limit_per_minute: int | None = None,
    created_by=None,
    expires_at=None,
) -> tuple[ApiToken, str]:
    """Create a token for `user`. Returns the row and the token itself, which is never stored
    and cannot be shown again. Scopes default to, and may not exceed, what the user's role
    allows."""
    allowed = scopes_allowed(user)
    if not allowed:
        raise TokenRefused(f"{user.get_username()} has no role that allows API access.")
    wanted = list(scopes) if scopes is not None else allowed
    beyond = sorted(set(wanted) - set(allowed))
    if beyond:
        raise TokenRefused(
            f"{user.get_username()}'s role does not allow the scope(s) {', '.join(beyond)}."
        )
    if ApiToken.objects.filter(user=user, name=name).exists():
        raise TokenRefused(f"{user.get_username()} already has a token named {name!r}.")
    token, lookup = ApiToken.generate()
    with transaction.atomic():
        row = ApiToken.objects.create(
            user=user,
            name=name,
            lookup=lookup,
            token_hash=hash_token(token),
            scopes=sorted(set(wanted)),
            created_by=created_by,
            expires_at=expires_at,
            **({"rate_limit_per_minute": rate_limit_per_minute} if rate_limit_per_minute else {}),
        )
        audit_record(
            verb="apitoken.created",
            obj=row,
            actor=created_by,
            actor_label="" if created_by else "manage.py",
            after={"user": user.get_username(), "name": name, "scopes": row.scopes},
        )
    return row, token


def api_token_revoke(*, token: ApiToken, revoked_by=None) -> None:
    with transaction.atomic(durable=True):
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            # This process stops honouring it at once; others within seconds.
            transaction.on_commit(forget_principals)
            audit_record(
                verb="apitoken.revoked",
                obj=token,
                actor=revoked_by,
                actor_label="" if revoked_by else "manage.py",
                after={"user": token.user.get_username(), "name": token.name},
            )
