"""A hash list served over HTTPS: a partner's feed, or another Vigil's published bank.

Two kinds, by Exchange.options["mode"]:

- "list" (the default): the whole list at the URL each time, in python-threatexchange's formats:
  CSV `signal_type,signal_str[,labels...]` (its dataset CSV's column order, a header allowed) or
  `<type> <hash> [labels...]` lines. An item is its signal (`<type>:<hash>`); what a full list
  no longer names is withdrawn once the whole list has been applied (`complete_list`). The feed's
  ETag and Last-Modified are kept in the checkpoint and sent back, so an unchanged list costs a
  304 and changes nothing.
- "incremental": a Vigil published bank (docs/feeds.md): JSON lines of additions and removals
  since a `checkpoint` parameter, the next checkpoint in `X-Vigil-Checkpoint` and whether more
  follow in `X-Vigil-More`.

A bearer token, when the exchange names credentials: <credentials_env>_TOKEN.
"""

import csv
import json
import urllib.parse
from collections.abc import Iterator

from moderation.exchanges.clients.base import (
    ExchangeClient,
    ExchangeMalformed,
    Page,
    Signal,
    Update,
    http_request,
)

# Items handed to the sync at a time from a list (each page one transaction).
PAGE_ITEMS = 5000
# Incremental responses followed in one sync at the most (a feed that never says "no more").
MAX_PAGES = 10_000


class FeedClient(ExchangeClient):
    def __init__(self, exchange):
        super().__init__(exchange)
        # Set when a whole list was served and read: the sync then withdraws what it lacked.
        self.complete_list = False

    def _headers(self) -> dict:
        headers = {"Accept": "text/csv, text/plain, application/x-ndjson, application/json"}
        if self.exchange.credentials_env:
            headers["Authorization"] = f"Bearer {self.credential('TOKEN')}"
        return headers

    def fetch(self, checkpoint: dict) -> Iterator[Page]:
        if self.exchange.options.get("mode", "list") == "incremental":
            yield from self._incremental(checkpoint)
        else:
            yield from self._list(checkpoint)

    def _list(self, checkpoint: dict) -> Iterator[Page]:
        headers = self._headers()
        if checkpoint.get("etag"):
            headers["If-None-Match"] = checkpoint["etag"]
        if checkpoint.get("last_modified"):
            headers["If-Modified-Since"] = checkpoint["last_modified"]
        status, answer_headers, body = http_request(
            self.exchange.url, headers=headers, what=self.exchange.name, not_modified=True
        )
        if status == 304:
            yield Page(updates=[], checkpoint=checkpoint, last=True)
            return
        after = {
            "etag": _header(answer_headers, "ETag"),
            "last_modified": _header(answer_headers, "Last-Modified"),
        }
        after = {k: v for k, v in after.items() if v}
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ExchangeMalformed(
                f"{self.exchange.name} served a list that is not UTF-8"
            ) from None
        updates = [update for update in map(_list_item, text.splitlines()) if update]
        # The whole list is in hand: once every page is applied, what it lacks is withdrawn.
        self.complete_list = True
        # Until the whole list is applied, a restart fetches it again from the old checkpoint.
        for start in range(0, len(updates), PAGE_ITEMS):
            last = start + PAGE_ITEMS >= len(updates)
            yield Page(updates[start : start + PAGE_ITEMS], after if last else checkpoint, last)
        if not updates:
            yield Page(updates=[], checkpoint=after, last=True)

    def _incremental(self, checkpoint: dict) -> Iterator[Page]:
        cursor = checkpoint.get("checkpoint", "")
        for _ in range(MAX_PAGES):
            query = urllib.parse.urlencode(
                {"format": "jsonl", **({"checkpoint": cursor} if cursor else {})}
            )
            separator = "&" if "?" in self.exchange.url else "?"
            _status, headers, body = http_request(
                f"{self.exchange.url}{separator}{query}",
                headers=self._headers(),
                what=self.exchange.name,
            )
            following = _header(headers, "X-Vigil-Checkpoint")
            if not following:
                raise ExchangeMalformed(f"{self.exchange.name} did not say where to go on from")
            updates = [
                _change(line)
                for line in body.decode("utf-8", "replace").splitlines()
                if line.strip()
            ]
            more = _header(headers, "X-Vigil-More").lower() == "true"
            cursor = following
            yield Page(updates, {"checkpoint": cursor}, last=not more)
            if not more:
                return
        raise ExchangeMalformed(f"{self.exchange.name} kept saying there was more")


def _header(headers: dict, name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def _list_item(line: str) -> Update | None:
    """A list's line as an item (its signal is its id); None for blanks, comments and a header.
    The sync checks the hash itself (an invalid one is skipped and named)."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if "," in line.split(" ", 1)[0]:
        fields = [f.strip() for f in next(csv.reader([line]))]
    else:
        head, _, rest = line.partition(" ")
        fields = [head, rest.strip()] if head.lower() == "vpdq" else [head, *rest.split()]
    if [f.lower() for f in fields[:2]] == ["signal_type", "signal_str"]:
        return None
    if len(fields) < 2 or not fields[0] or not fields[1]:
        raise ExchangeMalformed(f"not a hash list line: {line[:80]!r}")
    signal_type, value = fields[0].lower(), fields[1]
    if signal_type != "vpdq":
        value = value.lower()
    labels = tuple(f for f in fields[2:] if f)
    return Update(f"{signal_type}:{value}"[:255], (Signal(signal_type, value),), labels)


def _change(line: str) -> Update:
    """One JSON line of a Vigil feed: an addition or a removal."""
    try:
        item = json.loads(line)
        source_id = str(item["id"])
        signal = Signal(str(item["signal_type"]).lower(), str(item["signal"]))
        labels = tuple(str(label) for label in item.get("labels") or ())
        deleted = bool(item.get("deleted", False))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ExchangeMalformed(f"not a feed line: {line[:80]!r}") from None
    return Update(source_id, () if deleted else (signal,), labels, deleted)
