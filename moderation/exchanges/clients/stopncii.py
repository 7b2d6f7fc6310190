"""StopNCII.org's hash API: hashes of intimate images that people made on their own device
(the image never leaves it), shared with the platforms that joined, who send back what their
review found.

Written from the public documentation of the API as Meta's python-threatexchange describes it
(threatexchange/exchanges/clients/stopncii/api.py):

- Base URL https://api.stopncii.org/v1 (the exchange's `url`). Every call carries the Azure API
  Management subscription key (`Ocp-Apim-Subscription-Key`) and the endpoint's own function key
  (`x-functions-key`): FetchHashes and SubmitFeedback each have one.
- GET FetchHashes?startTimestamp=&pageSize=[&nextPageToken=] answers
  {count, nextPageToken, nextSetTimestamp, hasMoreRecords, hashRecords: [...]}, each record
  {lastModtimestamp, signalType, hashValue, hashStatus, caseNumbers: {case id: status},
  CSPFeedbacks: [...]}. A record is the whole current state of its signalType+hashValue: a
  later one replaces it. The page token is a cursor that does not stay valid for long;
  nextSetTimestamp is what to keep for the next walk.
- POST SubmitFeedback {"count": n, "hashFeedbacks": [{"hashValue", "feedbackValue", "tags"}]}.

Credentials, from the environment (<credentials_env>_<NAME>): SUBSCRIPTION_KEY, FETCH_KEY and,
to send feedback, FEEDBACK_KEY.
"""

import json
import re
import time
import urllib.parse
from collections.abc import Iterator

from moderation.banks.models import HEX_LENGTH
from moderation.exchanges.clients.base import (
    ExchangeClient,
    ExchangeError,
    ExchangeMalformed,
    FeedbackItem,
    Page,
    Signal,
    Update,
    http_request,
)

BASE_URL = "https://api.stopncii.org/v1"
# The API's own default: the first walk starts at the beginning of its list.
DEFAULT_START_TIMESTAMP = 10
DEFAULT_PAGE_SIZE = 800
MAX_PAGE_SIZE = 5000
# A page token older than this is not trusted: the walk starts again from its timestamp (the
# records are whole states, so seeing some twice changes nothing).
TOKEN_MAX_AGE_SECONDS = 60 * 60
# The signal types Vigil holds; the API's others (VideoTMK, Text, URL) are skipped and noted.
SIGNAL_TYPES = {"ImagePDQ": "pdq", "VideoMD5": "video_md5"}
STOPNCII_TYPES = {vigil: theirs for theirs, vigil in SIGNAL_TYPES.items()}
LIVE = {"Received", "Active", "Unknown"}
GONE = {"Withdrawn", "Deleted"}
# A hash can belong to many cases; a match shows its labels, so only so many case ids.
MAX_CASE_LABELS = 10
# Agree: the match was reviewed and is NCII. Disagree: reviewed, not found to be.
FEEDBACK_VALUES = {"agree": "Blocked", "disagree": "NotBlocked"}

_HEX = re.compile(r"[0-9a-f]+")


class StopNciiClient(ExchangeClient):
    takes_feedback = True

    def fetch(self, checkpoint: dict) -> Iterator[Page]:
        headers = self._headers("FETCH_KEY")
        start = _whole(checkpoint.get("start_timestamp"), DEFAULT_START_TIMESTAMP)
        token = checkpoint.get("page_token") or ""
        token = token if isinstance(token, str) else ""
        notes, restarted = [], False
        if token and time.time() - _whole(checkpoint.get("token_at"), 0) > TOKEN_MAX_AGE_SECONDS:
            token = ""
            notes.append(f"The saved page token was old: fetching again from {start}.")
        page_size = min(
            max(_whole(self.exchange.options.get("page_size"), DEFAULT_PAGE_SIZE), 1),
            MAX_PAGE_SIZE,
        )
        number = 0
        while True:
            number += 1
            params = {"startTimestamp": start, "pageSize": page_size}
            if token:
                params["nextPageToken"] = token
            url = f"{self._base_url()}/FetchHashes?{urllib.parse.urlencode(params)}"
            what = f"StopNCII (FetchHashes from {start}, page {number})"
            try:
                _status, _headers, body = http_request(url, headers=headers, what=what)
            except ExchangeMalformed:
                if not token or restarted:
                    raise
                # A cursor the API no longer knows (it does not keep them long) would stop
                # every later sync at the same place: walk again from the start, once.
                token, restarted = "", True
                notes.append(f"The API refused the page token: fetching again from {start}.")
                continue
            answer = _read_page(body, what)

            updates, page_notes = [], notes
            skipped: dict[str, int] = {}
            for record in answer["hashRecords"]:
                update, reason = _update(record)
                if update is None:
                    skipped[reason] = skipped.get(reason, 0) + 1
                else:
                    updates.append(update)
            page_notes += [f"Skipped {n} record(s): {why}." for why, n in sorted(skipped.items())]
            notes = []

            if answer["hasMoreRecords"]:
                token = answer.get("nextPageToken")
                if not isinstance(token, str) or not token:
                    raise ExchangeMalformed(f"{what}: more records but no nextPageToken")
                # Mid-walk the resume point is this walk's start and its cursor: the page's
                # nextSetTimestamp may be past records not fetched yet.
                after = {
                    "start_timestamp": start,
                    "page_token": token,
                    "token_at": int(time.time()),
                }
                yield Page(updates=updates, checkpoint=after, notes=page_notes)
                continue
            # The walk is done: the next one starts where the API says, never before this one.
            following = max(start, _whole(answer.get("nextSetTimestamp"), start))
            yield Page(
                updates=updates,
                checkpoint={"start_timestamp": following},
                last=True,
                notes=page_notes,
            )
            return

    def send_feedback(self, item: FeedbackItem) -> None:
        value = FEEDBACK_VALUES.get(item.verdict)
        if value is None:
            raise ExchangeError(f"StopNCII takes no verdict {item.verdict!r}")
        if item.signal.signal_type not in STOPNCII_TYPES:
            raise ExchangeError(f"StopNCII has no {item.signal.signal_type} hashes")
        headers = self._headers("FEEDBACK_KEY")
        headers["Content-Type"] = "application/json"
        # The API names a hash by its value alone (no signal type in a feedback); Vigil's labels
        # are not sent: they are the programme's own data, or Vigil's.
        body = {
            "count": 1,
            "hashFeedbacks": [{"hashValue": item.signal.value, "feedbackValue": value, "tags": []}],
        }
        http_request(
            f"{self._base_url()}/SubmitFeedback",
            method="POST",
            headers=headers,
            body=json.dumps(body).encode(),
            what="StopNCII (SubmitFeedback)",
        )

    def _headers(self, function_key: str) -> dict:
        return {
            "Ocp-Apim-Subscription-Key": self.credential("SUBSCRIPTION_KEY"),
            "x-functions-key": self.credential(function_key),
            "Accept": "application/json",
        }

    def _base_url(self) -> str:
        return (self.exchange.url or BASE_URL).rstrip("/")


def _whole(value, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return default
    return value


def _read_page(body: bytes, what: str) -> dict:
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ExchangeMalformed(f"{what} is not JSON") from None
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("hashRecords"), list)
        or not isinstance(answer.get("hasMoreRecords"), bool)
    ):
        raise ExchangeMalformed(f"{what} is not a FetchHashes answer (hashRecords, hasMoreRecords)")
    return answer


def _update(record) -> tuple[Update | None, str]:
    """The record as an update, or None and why it was skipped. One record Vigil cannot read
    is skipped (and noted), not the page: a page is refused only when it cannot be read at all,
    so an odd record does not hold every later withdrawal back."""
    if not isinstance(record, dict):
        return None, "not a record"
    their_type = record.get("signalType")
    signal_type = SIGNAL_TYPES.get(their_type)
    if signal_type is None:
        return None, f"signal type {str(their_type)[:20]!r} is not one Vigil holds"
    value = record.get("hashValue")
    value = value.strip().lower() if isinstance(value, str) else ""
    if len(value) != HEX_LENGTH[signal_type] or not _HEX.fullmatch(value):
        return None, f"not a {their_type} hash value"
    status = record.get("hashStatus")
    cases = record.get("caseNumbers") or {}
    if not isinstance(status, str) or status not in LIVE | GONE or not isinstance(cases, dict):
        return None, "a status that is not documented"
    source_id = f"{their_type}:{value}"
    live_cases = sorted(str(case)[:64] for case, state in cases.items() if state not in GONE)
    # Withdrawn by the person it belongs to (or deleted): every entry it gave goes. The
    # aggregate status says so; a hash whose every case is withdrawn goes too, whatever the
    # aggregate says, since consent withdrawn is the one thing not to be late on.
    if status in GONE or (cases and not live_cases):
        return Update(source_id=source_id, deleted=True), ""
    labels = ["stopncii", f"status:{status.lower()}", f"cases:{len(live_cases)}"]
    labels += [f"case:{case}" for case in live_cases[:MAX_CASE_LABELS]]
    return Update(
        source_id=source_id, signals=(Signal(signal_type, value),), labels=tuple(labels)
    ), ""
