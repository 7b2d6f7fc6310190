"""NCMEC's hash sharing API (v2, XML), as its documentation describes it
(https://report.cybertip.org/hashsharing/v2/documentation.pdf; read through Meta's
python-threatexchange client, which is the public account of how it behaves).

The wire format, in short:

- Exchange.url is an environment's base, e.g. https://report.cybertip.org/hashsharing (industry),
  https://exttest.cybertip.org/hashsharing (its test twin), https://hashsharing.ncmec.org/npo;
  every call is under <base>/v2/ with HTTP Basic credentials.
- GET /v2/entries?from=<UTC time>&to=<UTC time> lists the entries added, changed or deleted in
  that window (from exclusive, to inclusive), as <queryResult> with <images> and <videos> holding
  <image>/<video> (member, id, classification, fingerprints: md5, sha1, pdna, pdq, ...) and
  <deletedImage>/<deletedVideo> (member and id only). A long answer ends with <paging><next>: a
  path (/v2/entries?from=..&to=..&start=..&size=..&max=..) to the next page of the same query.
- PUT /v2/entries/<member>/<id>/<FINGERPRINT TYPE>/feedback with <feedbackSubmission> holding
  <affirmative/> or <negative><reasonIds><guid>..</guid></reasonIds></negative>; the reasons a
  negative vote may give are listed by GET /v2/feedback/<FINGERPRINT TYPE>/reasons.

What it means for the checkpoint (the hard-won lessons of python-threatexchange's issues #1105,
#1679 and #1744):

- Entries within a window come in no time order, so a window is done only when its last page is:
  only then does "from" move to the window's end. Mid-window the checkpoint keeps the window
  ("from", "to") and the paging path ("next"), and resumes exactly there.
- A paging path is valid only for the very query that issued it (same from and to), and NCMEC
  advises against keeping one long: one older than PAGING_VALID_SECONDS is dropped and its window
  fetched again from its start (applying a page twice changes nothing).
- The list's entries are not spread evenly in time, so windows are sized by probing: a window whose
  first page says it holds more than `window_max_entries` is shrunk and asked again before any of it
  is applied; windows that come back small grow. The size learnt is kept in the checkpoint.
- The newest SETTLE_SECONDS are left for the next sync: entries still arriving in them would be
  missed by a window that has already ended.

Options (Exchange.options, none secret): `window_max_entries` (default 20000),
`only_member_ids` (a list of member ids whose entries are taken; others' are skipped),
`negative_reason` (the name or GUID of the reason a "disagree" gives, when NCMEC offers several).
Credentials: the environment variables <credentials_env>_USER and <credentials_env>_PASSWORD.
"""

import base64
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from lxml import etree

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

API_VERSION = "v2"
NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# NCMEC advises against keeping paging links; python-threatexchange drops them after 12 hours.
PAGING_VALID_SECONDS = 12 * 60 * 60
SETTLE_SECONDS = 5
DEFAULT_WINDOW_MAX_ENTRIES = 20_000
# Windows that come back small double up to this (a year), and no further.
MAX_WINDOW_SECONDS = 366 * 24 * 60 * 60

# (entry kind, NCMEC's fingerprint tag) -> the signal type Vigil holds it as. Everything else NCMEC
# lists (SHA1, PhotoDNA, NetClean, Videntifier, TMK+PDQF, SSVH hashes) has no signal type here.
SIGNAL_OF = {
    ("image", "md5"): "md5",
    ("image", "sha256"): "sha256",
    ("image", "pdq"): "pdq",
    ("video", "md5"): "video_md5",
    ("video", "sha256"): "video_sha256",
}
# Vigil's signal type -> NCMEC's fingerprint type in the feedback call (its FingerprintType list:
# MD5, SHA1, PDNA, PDQ, ...; no SHA-256, so SHA-256 entries take no feedback).
FEEDBACK_TYPE_OF = {"md5": "MD5", "video_md5": "MD5", "pdq": "PDQ"}
ENTRY_TAGS = {"image", "video", "deletedImage", "deletedVideo"}


def format_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime(TIME_FORMAT)


def _local(element) -> str:
    """A tag without its namespace (NCMEC's namespace adds nothing to reading it)."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child(element, name: str):
    for child in element:
        if _local(child) == name:
            return child
    return None


def _text(element) -> str:
    return (element.text or "").strip() if element is not None else ""


def parse_xml(body: bytes, what: str):
    # Not resolving entities or fetching anything: the answer is the programme's, not ours.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as e:
        raise ExchangeMalformed(f"{what} is not well-formed XML: {e}") from None
    if root is None:
        raise ExchangeMalformed(f"{what} is empty")
    return root


def _paging_numbers(next_path: str) -> dict[str, int]:
    """start/size/max of a paging path (the next page's first row, its size, the query's rows)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(next_path).query)
    numbers = {}
    for name in ("start", "size", "max"):
        value = (query.get(name) or [""])[0]
        if value.isdecimal():
            numbers[name] = int(value)
    return numbers


class NcmecClient(ExchangeClient):
    takes_feedback = True

    #: The clock windows are cut by (seconds since the epoch); tests set their own.
    clock = staticmethod(time.time)

    def __init__(self, exchange):
        super().__init__(exchange)
        self.base = (exchange.url or "").rstrip("/")
        options = exchange.options if isinstance(exchange.options, dict) else {}
        self.options = options
        limit = options.get("window_max_entries", DEFAULT_WINDOW_MAX_ENTRIES)
        self.window_max_entries = (
            limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else 0
        ) or DEFAULT_WINDOW_MAX_ENTRIES
        members = options.get("only_member_ids") or []
        self.only_members = {str(m) for m in members} if isinstance(members, list) else set()
        self._reasons: dict[str, dict[str, str]] = {}

    # HTTP.

    def _headers(self) -> dict:
        # Both are read on every call: a credential rotated in the environment is used at once.
        user, password = self.credential("USER"), self.credential("PASSWORD")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}", "Accept": "application/xml"}

    def _get(self, path: str, what: str):
        _status, _headers, body = http_request(
            f"{self.base}{path}", headers=self._headers(), what=what
        )
        return parse_xml(body, what)

    # Fetching.

    def fetch(self, checkpoint: dict) -> Iterator[Page]:
        start, window, resume = self._read_checkpoint(checkpoint)
        end = int(self.clock()) - SETTLE_SECONDS
        if resume is None and start >= end:
            # Synced moments ago: nothing has settled since.
            yield Page(updates=[], checkpoint=self._done(start, window), last=True)
            return
        while resume is not None or start < end:
            if resume is not None:
                to, next_path = resume
                probe = False
                resume = None
            else:
                to = min(end, start + window)
                next_path = self._entries_path(start, to)
                probe = True
            total = 0
            while True:
                what = f"NCMEC's entries from {format_time(start)} to {format_time(to)}"
                updates, following, notes = self._read_page(self._get(next_path, what), what)
                if probe and following and to - start > 1:
                    estimate = self._estimate(following, len(updates))
                    if estimate > self.window_max_entries:
                        # Too much for one window: ask again for less, before applying any of it
                        # (a cursor is slow to make, and a long one may go stale before it ends).
                        span = to - start
                        window = max(1, min(span // 2, span * self.window_max_entries // estimate))
                        break
                probe = False
                total += len(updates)
                if following:
                    saved = {
                        "from": start,
                        "to": to,
                        "next": following,
                        "next_issued_at": int(self.clock()),
                        "window": window,
                    }
                    yield Page(updates=updates, checkpoint=saved, notes=notes)
                    next_path = following
                    continue
                # The window is done: the next starts where it ended, larger if this one was small.
                if total < self.window_max_entries // 4:
                    window = max(window, min(window * 2, MAX_WINDOW_SECONDS))
                start = to
                yield Page(
                    updates=updates,
                    checkpoint=self._done(start, window),
                    last=start >= end,
                    notes=notes,
                )
                break

    def _done(self, start: int, window: int) -> dict:
        return {"from": start, "next": None, "window": window}

    def _entries_path(self, start: int, to: int) -> str:
        query = urllib.parse.urlencode({"from": format_time(start), "to": format_time(to)})
        return f"/{API_VERSION}/entries?{query}"

    def _read_checkpoint(self, checkpoint: dict) -> tuple[int, int, tuple[int, str] | None]:
        """(from, window, (to, paging path) when a window is to be resumed mid-way)."""
        checkpoint = checkpoint or {}
        start = checkpoint.get("from", 0)
        window = checkpoint.get("window") or 0
        to = checkpoint.get("to")
        next_path = checkpoint.get("next")
        issued = checkpoint.get("next_issued_at", 0)
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (start, window)) or (
            start < 0 or window < 0
        ):
            raise ExchangeMalformed("NCMEC: the saved checkpoint cannot be read")
        # The first window asks for everything up to now; probing shrinks it to what NCMEC holds.
        window = window or max(1, int(self.clock()) - start)
        if not next_path:
            return start, window, None
        if not isinstance(to, int) or isinstance(to, bool) or to <= start:
            raise ExchangeMalformed("NCMEC: the saved checkpoint cannot be read")
        self._check_next(next_path)
        if not isinstance(issued, int) or self.clock() - issued > PAGING_VALID_SECONDS:
            # Too old to trust: the same window again, from its first page.
            return start, window, (to, self._entries_path(start, to))
        return start, window, (to, next_path)

    def _check_next(self, next_path) -> str:
        # The paging path is appended to our own base: anything but an entries query is refused.
        if not isinstance(next_path, str) or not next_path.startswith(f"/{API_VERSION}/entries?"):
            raise ExchangeMalformed("NCMEC gave a paging link that is not an entries query")
        return next_path

    def _estimate(self, next_path: str, on_page: int) -> int:
        """How many rows the window holds, from its paging link (its "max")."""
        numbers = _paging_numbers(next_path)
        if "max" in numbers:
            return max(numbers["max"], on_page)
        # No counts given: at least two pages; assume a large window rather than page on blindly.
        return self.window_max_entries + 1

    def _read_page(self, root, what: str) -> tuple[list[Update], str | None, list[str]]:
        if _local(root) != "queryResult":
            raise ExchangeMalformed(f"{what}: expected <queryResult>, got <{_local(root)}>")
        updates: list[Update] = []
        ignored: Counter = Counter()
        invalid: Counter = Counter()
        skipped = 0
        for group in root:
            if _local(group) not in ("images", "videos"):
                continue
            for element in group:
                tag = _local(element)
                if tag not in ENTRY_TAGS:
                    continue
                update = self._read_entry(element, tag, what, ignored, invalid)
                if update is None:
                    skipped += 1
                else:
                    updates.append(update)
        paging = _child(root, "paging")
        following = _text(_child(paging, "next")) if paging is not None else ""
        notes = []
        if ignored:
            kinds = ", ".join(f"{name} ×{n}" for name, n in sorted(ignored.items()))
            notes.append(f"NCMEC fingerprints Vigil holds no signal type for, ignored: {kinds}")
        if invalid:
            kinds = ", ".join(f"{name} ×{n}" for name, n in sorted(invalid.items()))
            notes.append(f"NCMEC fingerprints that are not valid hashes, skipped: {kinds}")
        if skipped:
            notes.append(f"{skipped} NCMEC entries from members not taken (only_member_ids)")
        return updates, (self._check_next(following) if following else None), notes

    def _read_entry(self, element, tag: str, what: str, ignored, invalid) -> Update | None:
        member = _child(element, "member")
        member_id = (member.get("id") or "").strip() if member is not None else ""
        entry_id = _text(_child(element, "id"))
        if not member_id.isdecimal() or not entry_id:
            raise ExchangeMalformed(f"{what}: an <{tag}> without its member id or entry id")
        source_id = f"{member_id}-{entry_id}"
        if tag.startswith("deleted"):
            # Withdrawn at source: always passed on (removing what was never taken is nothing).
            return Update(source_id=source_id, deleted=True)
        if self.only_members and member_id not in self.only_members:
            return None
        signals = []
        fingerprints = _child(element, "fingerprints")
        for fingerprint in fingerprints if fingerprints is not None else ():
            name = _local(fingerprint).lower()
            signal_type = SIGNAL_OF.get((tag, name))
            value = _text(fingerprint).lower()
            if signal_type is None:
                if name:
                    ignored[name] += 1
                continue
            if len(value) != HEX_LENGTH[signal_type] or value.strip("0123456789abcdef"):
                invalid[name] += 1
                continue
            signals.append(Signal(signal_type, value))
        labels = [f"member:{member_id}"]
        classification = _text(_child(element, "classification"))
        if classification:
            labels.insert(0, f"classification:{classification}")
        # An entry with nothing Vigil holds still comes through: it may have had before what it
        # lacks now, and the sync then removes that.
        return Update(source_id=source_id, signals=tuple(signals), labels=tuple(labels))

    # Feedback.

    def send_feedback(self, item: FeedbackItem) -> None:
        member_id, _, entry_id = item.source_id.partition("-")
        if not member_id.isdecimal() or not entry_id:
            raise ExchangeMalformed(f"not an NCMEC entry id: {item.source_id!r}")
        fingerprint_type = FEEDBACK_TYPE_OF.get(item.signal.signal_type)
        if fingerprint_type is None:
            raise ExchangeError(
                f"NCMEC takes feedback on MD5 and PDQ fingerprints, not {item.signal.signal_type}"
            )
        if item.verdict == "agree":
            vote = "<affirmative/>"
        elif item.verdict == "disagree":
            guid = self._negative_reason(fingerprint_type)
            vote = f"<negative><reasonIds><guid>{escape(guid)}</guid></reasonIds></negative>"
        else:
            raise ExchangeError(f"not a verdict NCMEC takes: {item.verdict!r}")
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<feedbackSubmission xmlns="{NAMESPACE}">{vote}</feedbackSubmission>'
        ).encode()
        path = "/".join(
            urllib.parse.quote(part, safe="")
            for part in (member_id, entry_id, fingerprint_type, "feedback")
        )
        http_request(
            f"{self.base}/{API_VERSION}/entries/{path}",
            method="PUT",
            headers={**self._headers(), "Content-Type": "application/xml; charset=utf-8"},
            body=body,
            what=f"NCMEC's feedback on entry {item.source_id}",
        )

    def _negative_reason(self, fingerprint_type: str) -> str:
        """The GUID of the reason a "disagree" gives: the one NCMEC offers, or the one the options
        name among those it offers."""
        reasons = self._reasons.get(fingerprint_type)
        if reasons is None:
            what = f"NCMEC's negative feedback reasons for {fingerprint_type}"
            root = self._get(f"/{API_VERSION}/feedback/{fingerprint_type}/reasons", what)
            reasons = {
                (reason.get("guid") or "").strip(): (reason.get("name") or "").strip()
                for reason in root.iter()
                if _local(reason) == "reason" and (reason.get("guid") or "").strip()
            }
            self._reasons[fingerprint_type] = reasons
        wanted = self.options.get("negative_reason")
        if isinstance(wanted, str) and wanted.strip():
            wanted = wanted.strip().lower()
            for guid, name in reasons.items():
                if wanted in (guid.lower(), name.lower()):
                    return guid
        elif len(reasons) == 1:
            return next(iter(reasons))
        offered = ", ".join(sorted(reasons.values())) or "none"
        raise ExchangeError(
            f"NCMEC needs a reason for negative feedback on {fingerprint_type}: set the exchange's "
            f'"negative_reason" option to one of: {offered}'
        )
