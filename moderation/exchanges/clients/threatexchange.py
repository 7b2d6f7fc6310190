"""Meta's ThreatExchange: members of a privacy group share hashes (ThreatIndicators) and their
opinions on them (ThreatDescriptors, with tags and a status), read through the Graph API, and
react to each other's descriptors.

Written from the public documentation of the Graph API and of /threat_updates as Meta's
python-threatexchange describes and uses them
(threatexchange/exchanges/clients/fb_threatexchange/api.py, threat_updates.py, descriptor.py):

- Base URL https://graph.facebook.com/v21.0 (the exchange's `url`; a URL without a version gets
  options["api_version"], else DEFAULT_API_VERSION). Every call carries the app's access token
  ("<app id>|<app secret>") as the `access_token` parameter: in the query of a GET, in the form
  body of a POST (so it is in no URL Vigil sends).
- GET /<privacy group>/threat_updates?start_time=&stop_time=&limit=&fields=[&after=] answers
  {"data": [...], "paging": {"cursors": {"before", "after"}, "next": <url>}}: the group's
  indicators whose last update is in [start_time, stop_time) (unix seconds), ordered by update
  time, each {id, indicator, type, last_updated, should_delete, descriptors: {data: [{id,
  owner: {id}, status, tags}]}}. An indicator updated again moves to the end of the list (it
  is listed once, in its latest state), so a window fetched again changes nothing. No
  `paging.next` is the last page. should_delete (or, as python-threatexchange notes for the
  API's issue 834, no descriptors at all) is a withdrawal. Deletions are kept 90 days: a sync
  resuming from further back fetches the whole list again.
- POST /<descriptor id> with reactions=<names, comma separated> [&reactions_to_remove=...]
  answers {"success": true}. Reactions are on descriptors, and not on the reactor's own.
- Errors are {"error": {"message", "type", "code", "error_subcode", "is_transient",
  "fbtrace_id"}}, mostly with a 400: codes 4/17/32/341/613 (and 80000s, business use case
  limits) are throttling, 190/102/10/200-299 (and an OAuthException in general) refused
  credentials, 1/2 or is_transient a fault of theirs; a 500 also answers a privacy group
  without /threat_updates enabled. The error body is read (base.http_request would discard it
  for a 400), so this client makes its own requests with the same timeout and size cap.

Mapped to Vigil: an indicator is an item (source id: the indicator's id, which its withdrawal
names); HASH_PDQ -> pdq, HASH_MD5 / HASH_SHA256 -> md5 / sha256 (video_md5 / video_sha256 when
tagged media_type_video, as python-threatexchange reads them), HASH_VIDEO_MD5 / HASH_VIDEO_SHA256
-> video_md5 / video_sha256; ThreatExchange has no vPDQ type, and the others (TMK, PhotoDNA,
URLs...) are skipped and noted. Its labels: "threatexchange", the union of its descriptors'
tags, and "te_descriptor:<id>" for each other member's descriptor: feedback reacts to those
(the reactions API is per descriptor, and the entry's labels are all a feedback carries). An
indicator whose every descriptor says NON_MALICIOUS is not listed: no member vouches for it.

The checkpoint: {"start_time": t} when the last window is done (the next one is [t, now -
SETTLE_SECONDS)); mid-window {"start_time", "stop_time", "after": cursor} to resume that window
exactly after its last applied page (a saved cursor the API no longer takes: that window again
from its start). The token is never in a checkpoint. Credentials, from the
environment (<credentials_env>_<NAME>): ACCESS_TOKEN, or APP_ID and APP_SECRET.
"""

import json
import re
import time
import urllib.parse
from collections.abc import Iterator

from moderation.exchanges.clients.base import (
    ExchangeAuthFailed,
    ExchangeClient,
    ExchangeError,
    ExchangeMalformed,
    ExchangeRateLimited,
    ExchangeUnavailable,
    FeedbackItem,
    Page,
    Signal,
    Update,
    http_request,
)

BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
# A window ends this long before now: an update written a moment ago (or with a clock a little
# ahead of ours) is in the next window rather than missed by this one.
SETTLE_SECONDS = 60
# Deletion events are kept 90 days; a checkpoint older than this may have missed some.
STALE_SECONDS = 85 * 24 * 60 * 60
FIELDS = "id,indicator,type,last_updated,should_delete,descriptors{id,owner{id},status,tags}"

TYPES = {
    "HASH_PDQ": "pdq",
    "HASH_MD5": "md5",
    "HASH_SHA256": "sha256",
    "HASH_VIDEO_MD5": "video_md5",
    "HASH_VIDEO_SHA256": "video_sha256",
}
VIDEO_TAG = "media_type_video"
AS_VIDEO = {"md5": "video_md5", "sha256": "video_sha256"}
NOT_LISTED = "NON_MALICIOUS"
DESCRIPTOR_LABEL = "te_descriptor:"
# A match shows its labels: so many tags and descriptors at most.
MAX_TAGS = 20
MAX_DESCRIPTORS = 10

# Agree: we saw it on our platform and it led to harmful content. Disagree: reviewed and not
# what the tags say (python-threatexchange reads DISAGREE_WITH_TAGS as a negative opinion).
# Each takes back the other's reaction, so a changed verdict leaves no contradiction.
REACTIONS = {
    "agree": ("SAW_THIS_TOO,HELPFUL", "DISAGREE_WITH_TAGS"),
    "disagree": ("DISAGREE_WITH_TAGS", "HELPFUL"),
}

THROTTLED = {4, 17, 32, 341, 613}
REFUSED = {10, 102, 190}
DEFAULT_RETRY_AFTER = 60

_VERSION = re.compile(r"/v\d+\.\d+$")
_DIGITS = re.compile(r"[0-9]{1,30}")


class ThreatExchangeClient(ExchangeClient):
    takes_feedback = True
    # Set when a fetch walked the group's whole list from its beginning in one go: the sync
    # then withdraws what that walk did not list (a checkpoint too old to trust deletions).
    complete_list = False
    # Seconds since the epoch (a test sets its own clock).
    clock = staticmethod(time.time)

    def fetch(self, checkpoint: dict) -> Iterator[Page]:
        group = self._privacy_group()
        url = f"{self._base_url()}/{group}/threat_updates/"
        size = _whole(self.exchange.options.get("page_size"), DEFAULT_PAGE_SIZE)
        limit = min(max(size, 1), MAX_PAGE_SIZE)
        start = _whole(checkpoint.get("start_time"), None)
        stop = _whole(checkpoint.get("stop_time"), None)
        after = checkpoint.get("after")
        notes = []
        if not (isinstance(after, str) and after and stop is not None):
            # A new window, from where the last one stopped to a moment ago.
            after = None
            now = int(self.clock())
            if start is not None and now - start > STALE_SECONDS:
                notes.append(
                    "The checkpoint was older than the 85 days ThreatExchange keeps deletions "
                    "for: the whole list was fetched again."
                )
                start = None
            stop = now - SETTLE_SECONDS
            if start is not None and start >= stop:
                yield Page(updates=[], checkpoint={"start_time": start}, last=True)
                return
        resumed = after is not None
        whole = start is None and not resumed
        number = 0
        while True:
            number += 1
            params = {"fields": FIELDS, "limit": limit, "stop_time": stop}
            if start is not None:
                params["start_time"] = start
            if after:
                params["after"] = after
            what = f"ThreatExchange (threat_updates of {group}, page {number})"
            try:
                answer = self._call("GET", url, params, what)
            except _Refused:
                if not resumed:
                    raise
                # A saved cursor that is no longer good: the window again from its start (an
                # indicator is listed in its latest state, so what comes twice changes nothing).
                notes.append("The saved page cursor was refused: the window was fetched again.")
                after, resumed, whole, number = None, False, start is None, 0
                continue
            resumed = False
            data, cursor = _read_page(answer, what)
            updates, page_notes = self._updates(data)
            notes += page_notes
            if cursor is not None:
                if cursor == after:
                    raise ExchangeMalformed(f"{what}: the same page cursor again")
                after = cursor
                mid = {"start_time": start, "stop_time": stop, "after": after}
                yield Page(updates=updates, checkpoint=mid, notes=notes)
                notes = []
                continue
            # Before the last page is handed over: the sync reads it once that page is applied.
            self.complete_list = whole
            yield Page(updates=updates, checkpoint={"start_time": stop}, last=True, notes=notes)
            return

    def send_feedback(self, item: FeedbackItem) -> None:
        reactions = REACTIONS.get(item.verdict)
        if reactions is None:
            raise ExchangeError(f"ThreatExchange takes no verdict {item.verdict!r}")
        descriptors = [
            label.removeprefix(DESCRIPTOR_LABEL)
            for label in item.labels
            if label.startswith(DESCRIPTOR_LABEL)
            and _DIGITS.fullmatch(label.removeprefix(DESCRIPTOR_LABEL))
        ]
        if not descriptors:
            raise ExchangeError(
                f"ThreatExchange: indicator {item.source_id[:40]} has no other member's "
                "descriptor to react to"
            )
        add, remove = reactions
        for descriptor in descriptors:
            what = f"ThreatExchange (reactions on descriptor {descriptor})"
            answer = self._call(
                "POST",
                f"{self._base_url()}/{descriptor}",
                {"reactions": add, "reactions_to_remove": remove},
                what,
            )
            if answer.get("success") is not True:
                raise ExchangeMalformed(f"{what} did not answer success")

    # The Graph API.

    def _token(self) -> str:
        try:
            return self.credential("ACCESS_TOKEN")
        except ExchangeAuthFailed:
            # An app token is the app's id and secret joined by a bar.
            return f"{self.credential('APP_ID')}|{self.credential('APP_SECRET')}"

    def _call(self, method: str, url: str, params: dict, what: str) -> dict:
        token = self._token()
        if not url.startswith(("https://", "http://")):
            raise ExchangeMalformed(f"{what}: only http(s) addresses are fetched")
        query = urllib.parse.urlencode({**params, "access_token": token})
        form = method != "GET"
        try:
            status, headers, body = http_request(
                url if form else f"{url}?{query}",
                method=method,
                headers={
                    "Accept": "application/json",
                    **({"Content-Type": "application/x-www-form-urlencoded"} if form else {}),
                },
                body=query.encode() if form else None,
                what=what,
                answer_errors=True,
                # A GET carries the token in its query: a redirect is answered, not followed.
                follow_redirects=False,
            )
        except ExchangeUnavailable as e:
            raise ExchangeUnavailable(_scrub(str(e), token)) from None
        try:
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        if status >= 300 or error is not None:
            _raise(status, headers, error, token, what)
        if not isinstance(answer, dict):
            raise ExchangeMalformed(f"{what} is not a JSON object")
        return answer

    def _updates(self, data: list) -> tuple[list[Update], list[str]]:
        # Our own descriptors are not reacted to: an app token names the app.
        app, bar, _ = self._token().partition("|")
        app = app if bar else ""
        updates, skipped = [], {}
        for item in data:
            update, reason = _update(item, app)
            if update is None:
                skipped[reason] = skipped.get(reason, 0) + 1
            else:
                updates.append(update)
        notes = [f"Skipped {n} indicator(s): {why}." for why, n in sorted(skipped.items())]
        return updates, notes

    def _privacy_group(self) -> str:
        group = self.exchange.options.get("privacy_group")
        group = str(group).strip() if isinstance(group, int | str) else ""
        if not _DIGITS.fullmatch(group):
            raise ExchangeError(
                f"{self.exchange.name}: options need the privacy group's id (privacy_group)"
            )
        return group

    def _base_url(self) -> str:
        base = (self.exchange.url or BASE_URL).rstrip("/")
        if _VERSION.search(base):
            return base
        version = self.exchange.options.get("api_version") or DEFAULT_API_VERSION
        if not (isinstance(version, str) and re.fullmatch(r"v\d+\.\d+", version)):
            raise ExchangeError(f"{self.exchange.name}: api_version is like {DEFAULT_API_VERSION}")
        return f"{base}/{version}"


class _Refused(ExchangeMalformed):
    """The API refused the request itself (a 4xx that is neither throttling nor credentials):
    a bad parameter, an unknown object, a cursor no longer good."""


def _whole(value, default):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return default
    return value


def _scrub(text: str, token: str) -> str:
    """The text without the token or either of its halves (the Graph API may quote a
    malformed token back)."""
    for secret in sorted({token, *token.split("|")}, key=len, reverse=True):
        if len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    return text


def _raise(status: int, headers, error, token: str, what: str):
    error = error if isinstance(error, dict) else {}
    code = _whole(error.get("code"), None)
    kind = error.get("type") if isinstance(error.get("type"), str) else ""
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    said = f"code {code}: {_scrub(message, token)[:200]}" if code is not None else str(status)
    if status == 429 or code in THROTTLED or (code is not None and 80000 <= code < 81000):
        retry_after = (headers.get("Retry-After") if headers else None) or ""
        seconds = int(retry_after) if retry_after.isdecimal() else DEFAULT_RETRY_AFTER
        raise ExchangeRateLimited(f"{what} asked to slow down ({said})", seconds)
    if (
        status >= 500
        or error.get("is_transient") is True
        or code == 2
        or (code == 1 and kind != "OAuthException")
    ):
        hint = ""
        if status == 500 and "threat_updates" in what:
            hint = " (a privacy group without threat_updates enabled answers 500 too)"
        raise ExchangeUnavailable(f"{what} failed ({status}, {said}){hint}")
    if (
        code in REFUSED
        or (code is not None and 200 <= code < 300)
        or status in (401, 403)
        or (kind == "OAuthException" and code != 100)
    ):
        raise ExchangeAuthFailed(f"{what} refused the credentials ({said})")
    raise _Refused(f"{what} refused the request ({status}, {said})")


def _read_page(answer: dict, what: str) -> tuple[list, str | None]:
    """The page's items and the cursor of the next page (None: this is the last)."""
    data = answer.get("data")
    paging = answer.get("paging", {})
    if not isinstance(data, list) or not isinstance(paging, dict):
        raise ExchangeMalformed(f"{what} is not a threat_updates page (data, paging)")
    if not paging.get("next"):
        return data, None
    cursors = paging.get("cursors")
    cursor = cursors.get("after") if isinstance(cursors, dict) else None
    if not cursor and isinstance(paging["next"], str):
        query = urllib.parse.urlsplit(paging["next"]).query
        cursor = dict(urllib.parse.parse_qsl(query)).get("after")
    if not isinstance(cursor, str) or not cursor or len(cursor) > 1000:
        raise ExchangeMalformed(f"{what}: a next page without its cursor")
    return data, cursor


def _update(item, app: str) -> tuple[Update | None, str]:
    """The indicator as an update, or None and why it was skipped. An odd indicator is skipped
    (and noted), not the page, so it does not hold every later withdrawal back."""
    if not isinstance(item, dict):
        return None, "not an indicator"
    indicator_id = item.get("id")
    indicator_id = str(indicator_id) if isinstance(indicator_id, int | str) else ""
    if not _DIGITS.fullmatch(indicator_id):
        return None, "without an id"
    descriptors = item.get("descriptors")
    descriptors = descriptors.get("data") if isinstance(descriptors, dict) else descriptors
    # Withdrawn from the group, or (python-threatexchange, the API's issue 834) no longer
    # visible with any descriptor: every entry it gave goes.
    if item.get("should_delete") is True or not descriptors or not isinstance(descriptors, list):
        return Update(source_id=indicator_id, deleted=True), ""
    their_type = item.get("type")
    signal_type = TYPES.get(their_type)
    if signal_type is None:
        return None, f"type {str(their_type)[:30]!r} is not one Vigil holds"
    value = item.get("indicator")
    value = value.strip().lower() if isinstance(value, str) else ""
    if not value:
        return None, "without an indicator"
    vouched = [d for d in descriptors if isinstance(d, dict) and d.get("status") != NOT_LISTED]
    if not vouched:
        # Every member who gave an opinion found it benign: nothing to match on.
        return Update(source_id=indicator_id, deleted=True), ""
    tags = sorted({tag for d in vouched for tag in _tags(d.get("tags"))})
    if signal_type in AS_VIDEO and VIDEO_TAG in tags:
        signal_type = AS_VIDEO[signal_type]
    others = sorted(
        {
            str(d.get("id"))
            for d in vouched
            if _DIGITS.fullmatch(str(d.get("id"))) and (not app or _owner(d) != app)
        },
        key=int,
    )
    labels = (
        "threatexchange",
        *tags[:MAX_TAGS],
        *(f"{DESCRIPTOR_LABEL}{d}" for d in others[:MAX_DESCRIPTORS]),
    )
    return Update(source_id=indicator_id, signals=(Signal(signal_type, value),), labels=labels), ""


def _tags(tags) -> list[str]:
    """A descriptor's tags: an edge ({"data": [{"id", "text"}]}) or a list of texts."""
    if isinstance(tags, dict):
        tags = [t.get("text") for t in tags.get("data") or () if isinstance(t, dict)]
    if not isinstance(tags, list):
        return []
    return [t.strip()[:100] for t in tags if isinstance(t, str) and t.strip()]


def _owner(descriptor: dict) -> str:
    owner = descriptor.get("owner")
    return str(owner.get("id")) if isinstance(owner, dict) else ""
