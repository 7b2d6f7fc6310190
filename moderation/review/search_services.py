"""Writes for the console's search: every search is audited (who looked for what, and what they
were shown), as every view of a case or its media is."""

from django.db import transaction

from moderation.audit.services import audit_record
from moderation.review.search import Results

# Long enough for any URL the intake keeps; the rest of a longer query is not a search term.
AUDITED_QUERY_LENGTH = 2000


def search_record(*, user, results: Results, ip: str | None = None) -> None:
    """One `search.performed` event about the person searching: the query as typed, what it was
    read as (kinds) and how many results of each group they were shown (counts)."""
    with transaction.atomic(durable=True):
        audit_record(
            verb="search.performed",
            obj=user,
            actor=user,
            after={
                "query": results.query.text[:AUDITED_QUERY_LENGTH],
                "kinds": results.query.kinds,
                "counts": results.counts,
            },
            ip=ip,
        )
