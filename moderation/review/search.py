"""The console's search: one box for a case id, a report's reference, a content URL, the
platform's id of an item, an account (its id or handle) or a hash of any signal type the banks
hold. The query is read first (`parse_query`: what it may be, often several things at once: "123"
is a case id, a platform id and an account id), then each reading is looked up.

Scoped to what the person may open: cases through moderation/cases/access.py's `visible_cases`
(a filter in SQL, so a count never counts what they may not see), escalations through
moderation/escalations/selectors.py's `visible_to`. Every group is capped at PER_GROUP rows with
its full count, and every reading costs a fixed number of queries, so a search reads as many
queries for a hash on ten thousand media as for a hash on one.

Hashes: SHA-256 and MD5 match media exactly (a file's and a video's alike); a PDQ (64 hex digits,
like a SHA-256: both are tried) matches media within the cluster threshold through the PDQ list
clustering keeps in each process (moderation/banks/clusters.py `media_near`: hashed images, and
every hashed video's frames), and bank entries within each bank's own threshold through the
banks' index (moderation/banks/lookup.py `hash_hits`, vPDQ entries' frames included). pHash and
dHash are looked up in the banks only: received media are found by their SHA-256, MD5 and PDQ.
"""

import re
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce

from accounts import roles
from moderation.banks.clusters import media_near
from moderation.banks.lookup import hash_hits
from moderation.banks.models import HEX_LENGTH, BankEntry
from moderation.cases.access import visible_cases
from moderation.cases.models import Case
from moderation.escalations.models import Escalation
from moderation.escalations.selectors import visible_to
from reports.content import canonical_url, url_key
from reports.models import Media, Report, normalise_reference

MAX_QUERY_LENGTH = 2000
PER_GROUP = 50
# The closest media a PDQ search checks for visibility, at most (a PDQ near thousands of received
# media is a cluster: its closest ones say what it is).
NEAR_CANDIDATES = 2000
# Case ids are BigAutoField: a longer number cannot be one (and would overflow the query).
MAX_CASE_ID = 2**63 - 1

# What a query may be, in the order results are shown.
CASE, REFERENCE, URL, PLATFORM_ID, ACCOUNT, HASH = (
    "case",
    "reference",
    "url",
    "platform_id",
    "account",
    "hash",
)
KIND_LABELS = {
    CASE: "case id",
    REFERENCE: "report reference",
    URL: "content URL",
    PLATFORM_ID: "platform content id",
    ACCOUNT: "account id or handle",
    HASH: "hash",
}

_EXPLICIT_CASE = re.compile(r"(?:case\s*#?|#)\s*(\d+)", re.IGNORECASE)
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*://", re.IGNORECASE)
# A link typed without its scheme: a host with a dot, then a path ("social.example/p/1").
_BARE_LINK = re.compile(r"(?:[\w\-]+\.)+[a-z]{2,}(?::\d+)?/\S*", re.IGNORECASE)
_SIGNAL_NAMES = "|".join(sorted((*HEX_LENGTH, "vpdq"), key=len, reverse=True))
_HASH = re.compile(rf"(?:(?P<type>{_SIGNAL_NAMES})\s*[:=]?\s*)?(?P<hex>[0-9a-f]+)", re.IGNORECASE)
# Which signal types a bare hex string of each length may be: 64 digits are a SHA-256, a PDQ or a
# vPDQ entry's value (the SHA-256 of its signal), all tried.
_BY_LENGTH = {64: ("sha256", "pdq", "vpdq"), 32: ("md5",), 16: ("phash", "dhash")}
_MAX_TOKEN = 255  # platform ids, owner ids and handles are CharField(max_length=255)


@dataclass(frozen=True)
class Query:
    """What the text may be. Empty fields: not that."""

    text: str
    case_id: int | None = None
    reference: str = ""
    url: str = ""  # the canonical form shown; url_keys are what is matched
    url_keys: tuple[str, ...] = ()
    platform_id: str = ""
    owner_id: str = ""
    handle: str = ""
    hashes: tuple[tuple[str, str], ...] = ()  # (signal type, lower-case hex)

    @property
    def kinds(self) -> list[str]:
        present = {
            CASE: self.case_id is not None,
            REFERENCE: bool(self.reference),
            URL: bool(self.url_keys),
            PLATFORM_ID: bool(self.platform_id),
            ACCOUNT: bool(self.owner_id or self.handle),
            HASH: bool(self.hashes),
        }
        return [kind for kind, yes in present.items() if yes]


def parse_query(text: str) -> Query:
    """Every reading of `text` worth looking up. "case 123" and "#123" are case ids only; a bare
    number is a case id and also a platform or account id; a link (with or without its scheme)
    is a URL only; a hex string of a hash's length is that hash and also an id."""
    text = text.strip()
    if not text:
        return Query(text="")
    if m := _EXPLICIT_CASE.fullmatch(text):
        return Query(text=text, case_id=_case_id(m.group(1)))
    if _SCHEME.match(text) or (not any(c.isspace() for c in text) and _BARE_LINK.fullmatch(text)):
        urls = [text] if _SCHEME.match(text) else [f"https://{text}", f"http://{text}"]
        return Query(
            text=text,
            url=canonical_url(urls[0]),
            url_keys=tuple(dict.fromkeys(url_key(u) for u in urls)),
        )
    hashes, named = _hashes(text)
    if named:
        return Query(text=text, hashes=hashes)  # "pdq:…": a hash and nothing else
    fields: dict = {"text": text, "reference": normalise_reference(text) or "", "hashes": hashes}
    if text.isascii() and text.isdecimal():  # not '²': a digit int() does not take
        fields["case_id"] = _case_id(text)
    if not any(c.isspace() for c in text) and len(text) <= _MAX_TOKEN:
        handle = text.removeprefix("@")
        if not text.startswith("@"):
            # "@name" is a handle; anything else may be the platform's id of an item or account.
            fields["platform_id"] = fields["owner_id"] = text
        fields["handle"] = handle
    return Query(**fields)


def _case_id(digits: str) -> int | None:
    number = int(digits)
    return number if 0 < number <= MAX_CASE_ID else None


def _hashes(text: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    """(signal type, lower-case hex) for each signal type the text may be a hash of: the one it
    is prefixed with ("pdq:…", "md5 …"), or every type of its length; and whether it was
    prefixed."""
    m = _HASH.fullmatch(text)
    if m is None:
        return (), False
    named, hex_value = (m.group("type") or "").lower(), m.group("hex").lower()
    types = (named,) if named else _BY_LENGTH.get(len(hex_value), ())
    hashes = tuple((t, hex_value) for t in types if len(hex_value) == HEX_LENGTH.get(t, 64))
    return hashes, bool(named)


@dataclass
class Row:
    """One result that opens a case: the case, and what about it matched."""

    case: Case
    detail: str = ""
    distance: int | None = None
    signal: str = ""
    media_id: int | None = None


@dataclass
class AccountRow:
    owner_id: str
    handle: str
    cases: int


@dataclass
class BankRow:
    entry: BankEntry
    signal_type: str
    distance: int


@dataclass
class Group:
    key: str
    title: str
    count: int
    rows: list
    note: str = ""

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.rows))


@dataclass
class Results:
    query: Query
    groups: list[Group] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {g.key: g.count for g in self.groups}

    @property
    def total(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def exact(self) -> Row | None:
        """The case the query names exactly (its id, or a report's reference), shown first and
        focused: Enter opens it."""
        for group in self.groups:
            if group.key in (CASE, REFERENCE) and group.rows:
                return group.rows[0]
        return None


def search(user, text: str) -> Results:
    """What `user` may see that `text` names, grouped by reading. A fixed number of queries per
    reading, whatever the number of matching rows."""
    query = parse_query(text)
    results = Results(query=query)
    if not query.kinds:
        return results
    cases = visible_cases(user)
    groups = results.groups
    if query.case_id is not None:
        found = list(_with_related(cases.filter(pk=query.case_id)))
        groups.append(Group(CASE, f"Case {query.case_id}", len(found), [Row(c) for c in found]))
    if query.reference:
        reports = list(
            Report.objects.filter(
                reference=query.reference, case__in=cases.values("pk")
            ).select_related("case__queue", "case__content_item")
        )
        groups.append(
            Group(
                REFERENCE,
                f"Report {query.reference}",
                len(reports),
                [Row(r.case, detail=f"Report {r.reference}") for r in reports],
            )
        )
    if query.url_keys:
        groups.append(
            _case_group(
                URL,
                f"Content at {query.url}",
                cases.filter(content_item__url_key__in=query.url_keys),
            )
        )
    if query.platform_id:
        groups.append(
            _case_group(
                PLATFORM_ID,
                f"Content with platform id {query.platform_id}",
                cases.filter(content_item__platform_id=query.platform_id),
            )
        )
    if query.owner_id or query.handle:
        groups.extend(_account_groups(query, cases))
    if query.hashes:
        groups.extend(_hash_groups(user, query, cases))
    shown = {row.case.pk for g in groups for row in g.rows if isinstance(row, Row)}
    if shown or query.owner_id:
        groups.append(_escalation_group(user, shown, query.owner_id))
    results.groups = [g for g in groups if g.count]
    return results


def _with_related(cases: QuerySet[Case]) -> QuerySet[Case]:
    return cases.select_related("queue", "content_item").order_by("-created_at", "-pk")


def _case_group(key: str, title: str, cases: QuerySet[Case]) -> Group:
    """Two queries: the count, and the newest PER_GROUP."""
    count = cases.count()
    rows = [Row(c) for c in _with_related(cases)[:PER_GROUP]] if count else []
    return Group(key, title, count, rows)


def _account_groups(query: Query, cases: QuerySet[Case]) -> list[Group]:
    """The accounts the text names (by id, or by handle in any case, with or without its @) that
    own content in cases the person may open, each with how many; and those cases."""
    match = Q()
    if query.owner_id:
        match |= Q(content_item__owner_id=query.owner_id)
    if query.handle:
        match |= Q(content_item__owner_handle__iexact=query.handle)
    about = cases.filter(match).exclude(content_item__owner_id="")
    accounts = {}
    # One row per (account, handle); folded into one per account here (a handle can change).
    for owner_id, handle, n in (
        about.order_by()
        .values_list("content_item__owner_id", "content_item__owner_handle")
        .annotate(n=Count("pk"))
        .order_by("content_item__owner_id", "content_item__owner_handle")[: PER_GROUP * 4]
    ):
        row = accounts.setdefault(owner_id, AccountRow(owner_id, handle, 0))
        row.cases += n
        row.handle = row.handle or handle
    rows = list(accounts.values())[:PER_GROUP]
    label = query.owner_id or f"@{query.handle}"
    return [
        Group(ACCOUNT, f"Accounts matching {label}", len(accounts), rows),
        _case_group("account_cases", "Cases about these accounts", about),
    ]


def _hash_groups(user, query: Query, cases: QuerySet[Case]) -> list[Group]:
    # Supervisors see every entry within a bank's threshold; others each bank's closest only.
    closest_per_bank = not user.has_perm(roles.SUPERVISE)
    return [_media_group(query, cases), _bank_group(query, closest_per_bank=closest_per_bank)]


def _media_group(query: Query, cases: QuerySet[Case]) -> Group:
    """Media carrying the hash exactly (SHA-256, MD5) or within the PDQ threshold (an image's
    PDQ, a video's frame), in cases the person may open: exact first, then closest first."""
    exact, digest_of = Q(), {}
    for signal_type, value in query.hashes:
        # A video's digests are its file's: Media.sha256 and Media.md5 hold both.
        digest = {"video_sha256": "sha256", "video_md5": "md5"}.get(signal_type, signal_type)
        if digest in ("sha256", "md5"):
            exact |= Q(**{digest: value})
            digest_of[digest] = value
    pdq = next((v for t, v in query.hashes if t == "pdq"), "")
    visible = Media.objects.annotate(case_ref=Coalesce("report__case_id", "flag__case_id")).filter(
        case_ref__in=cases.values("pk")
    )
    fields = ("pk", "case_ref", "sha256", "md5")
    exact_count, exact_rows = 0, []
    if exact:
        exact_media = visible.filter(exact)
        exact_count = exact_media.count()
        if exact_count:
            exact_rows = list(
                exact_media.order_by("-created_at", "-pk").values_list(*fields)[:PER_GROUP]
            )
    near_rows, truncated = [], False
    if pdq:
        near = media_near(pdq)
        truncated = len(near) > NEAR_CANDIDATES
        near = near[:NEAR_CANDIDATES]
        distance = {pk: (d, signal) for pk, d, signal in near}
        found = visible.filter(pk__in=list(distance))
        if exact:
            found = found.exclude(exact)
        near_rows = sorted(found.values_list(*fields), key=lambda r: (distance[r[0]][0], r[0]))
    shown = [(r, 0, "sha256" if r[2] == digest_of.get("sha256") else "md5") for r in exact_rows]
    shown += [(r, *distance[r[0]]) for r in near_rows[: PER_GROUP - len(shown)]]
    by_id = Case.objects.select_related("queue", "content_item").in_bulk(
        {r[1] for r, _, _ in shown}
    )
    rows = [
        Row(
            by_id[r[1]],
            detail=f"Media {r[0]}",
            distance=d,
            signal=signal,
            media_id=r[0],
        )
        for r, d, signal in shown
    ]
    note = f"at least; the closest {NEAR_CANDIDATES} were checked" if truncated else ""
    return Group("media", "Media with this hash", exact_count + len(near_rows), rows, note)


def _bank_group(query: Query, *, closest_per_bank: bool) -> Group:
    """Bank entries the hash matches: exactly, or within each bank's threshold through the
    banks' index (a PDQ also against vPDQ entries' frames). `closest_per_bank`: only each bank's
    closest entry, as the API's lookup answers (distances to every entry could map a bank out)."""
    best: dict[int, tuple[str, int]] = {}
    exact_vpdq = Q(pk__in=())
    for signal_type, value in query.hashes:
        if signal_type == "vpdq":
            exact_vpdq = Q(signal_type="vpdq", value=value)
            continue
        for hit in hash_hits(signal_type, value, video_frames=True):
            if hit.entry_id not in best or hit.distance < best[hit.entry_id][1]:
                best[hit.entry_id] = (hit.signal_type, hit.distance)
    if closest_per_bank and best:
        per_bank: dict[int, int] = {}
        for pk, bank_id in BankEntry.objects.filter(pk__in=best).values_list("pk", "bank_id"):
            if bank_id not in per_bank or (best[pk][1], pk) < (
                best[per_bank[bank_id]][1],
                per_bank[bank_id],
            ):
                per_bank[bank_id] = pk
        best = {pk: best[pk] for pk in per_bank.values()}
    closest = sorted(best, key=lambda pk: (best[pk][1], pk))[:PER_GROUP]
    # (A vPDQ entry is found by its value in at most one entry per bank: few.)
    entries = list(
        BankEntry.objects.filter(
            Q(pk__in=closest) | exact_vpdq, removed_at__isnull=True, bank__is_active=True
        ).select_related("bank", "exchange")
    )
    rows = sorted(
        (BankRow(e, *best.get(e.pk, ("vpdq", 0))) for e in entries),
        key=lambda r: (r.distance, r.entry.bank.name, r.entry.pk),
    )
    count = len(best) + sum(1 for e in entries if e.pk not in best)
    return Group("bank", "Bank entries", count, rows[:PER_GROUP])


def _escalation_group(user, case_ids: set[int], owner_id: str) -> Group:
    """Escalations of the cases shown (or about the account), as far as the person may see them
    (moderation/escalations/access.py)."""
    gathering = Escalation.cases.through.objects.filter(case_id__in=case_ids)
    match = Q(pk__in=gathering.values("escalation_id"))
    if owner_id:
        match |= Q(owner_id=owner_id)
    found = visible_to(user).filter(match)
    count = found.count()
    rows = list(found.order_by("-created_at", "-pk")[:PER_GROUP]) if count else []
    return Group("escalation", "Escalations", count, rows)
