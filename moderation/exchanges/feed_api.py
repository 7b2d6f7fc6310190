"""Published banks as feeds over the API, for partner platforms (docs/feeds.md).

Its own authentication: a feed token (moderation/exchanges/feed_tokens.py), and only a feed
token. The API's tokens and the console's session open no feed, and a feed token opens nothing
else (the API's BearerToken only takes API tokens).
"""

import re
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Query, Router
from ninja.security import HttpBearer

from lib.api import ApiError, ErrorOut
from lib.ratelimit import hit
from moderation.exchanges.feed_tokens import feed_bank_for, feed_read_record, feed_token_for
from moderation.exchanges.feeds import (
    PAGE_SIZE,
    BadCheckpoint,
    FeedBusy,
    feed_changes,
    feed_list,
    jsonl,
)
from moderation.exchanges.models import FeedToken

router = Router(tags=["feeds"])

# A catch-up of a large bank is a page after another: plenty, and a runaway loop is stopped.
FEED_REQUESTS_PER_MINUTE = 120
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


class FeedTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> FeedToken | None:
        return feed_token_for(token)


FEED_RESPONSES = {
    200: {
        "description": "`format=jsonl`: one change a line, additions "
        '(`{"id", "signal_type", "signal", "labels", "added_at", "deleted": false}`) and '
        'removals (`{"id", "signal_type", "signal", "deleted": true, "removed_at"}`) since the '
        "checkpoint. `format=csv`: the whole current list (python-threatexchange's dataset CSV). "
        "`X-Vigil-Checkpoint` is where to go on from; `X-Vigil-More: true` when more changes "
        "are waiting now.",
        "headers": {
            "X-Vigil-Checkpoint": {"schema": {"type": "string"}},
            "X-Vigil-More": {"schema": {"type": "string", "enum": ["true", "false"]}},
        },
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.get(
    "/feeds/{slug}",
    auth=FeedTokenAuth(),
    response={code: ErrorOut for code in (400, 401, 404, 422, 429, 503)},
    summary="Read a published bank: its changes since a checkpoint, or its whole list",
    openapi_extra={"responses": FEED_RESPONSES},
)
def read_feed(
    request,
    slug: str,
    checkpoint: Annotated[str | None, Query(max_length=1000)] = None,
    fmt: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE)] = PAGE_SIZE,
):
    """Authenticate with a feed token (`Authorization: Bearer vglf_...`). 404 for a bank that is
    not published or not the token's alike. jsonl: at most `limit` changes after `checkpoint`
    (none: from the start); 400 `bad_checkpoint` for one this feed did not give out for this bank.
    csv: every entry listed now, and in `X-Vigil-Checkpoint` where its changes follow on from;
    it takes no checkpoint. 503 `feed_busy` (with Retry-After) in the rare moment no consistent
    point can be read."""
    token: FeedToken = request.auth
    if wait := hit(f"feed-token:{token.pk}", limit=FEED_REQUESTS_PER_MINUTE):
        raise ApiError(
            429,
            "rate_limited",
            f"A feed token may make {FEED_REQUESTS_PER_MINUTE} requests a minute.",
            {"Retry-After": str(wait)},
        )
    bank = feed_bank_for(token, slug) if SLUG.fullmatch(slug) else None
    if bank is None:
        raise ApiError(404, "not_found", "No such feed for this token.")
    try:
        if fmt == "csv":
            if checkpoint:
                raise ApiError(
                    400,
                    "bad_checkpoint",
                    "csv is the whole current list and takes no checkpoint; follow the "
                    "changes with format=jsonl from the X-Vigil-Checkpoint it gave.",
                )
            rows, after = feed_list(bank=bank)
            feed_read_record(
                token=token,
                bank=bank,
                fmt=fmt,
                added=0,
                removed=0,
                span={"list_as_of": after.held()},
            )
            response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
            return _headers(response, after.encode(), more=False)
        page = feed_changes(bank=bank, checkpoint=checkpoint, limit=limit)
    except BadCheckpoint as e:
        raise ApiError(400, "bad_checkpoint", str(e)) from None
    except FeedBusy:
        raise ApiError(
            503,
            "feed_busy",
            "The bank is being written to; try again in a few seconds.",
            {"Retry-After": "5"},
        ) from None
    feed_read_record(
        token=token,
        bank=bank,
        fmt=fmt,
        added=page.added,
        removed=page.removed,
        span=page.span,
    )
    response = HttpResponse(jsonl(page.lines), content_type="application/x-ndjson")
    return _headers(response, page.checkpoint.encode(), more=page.more)


def _headers(response, checkpoint: str, *, more: bool):
    response["X-Vigil-Checkpoint"] = checkpoint
    response["X-Vigil-More"] = "true" if more else "false"
    response["Cache-Control"] = "no-store"
    return response
