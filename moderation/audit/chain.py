"""The audit log as a hash chain: sealing events into it and verifying it.

Design. `audit_record` inserts events *unsealed* (seq, prev_hash, hash NULL), so audit-writing
transactions (claims, intake) never wait on one another for the chain. `audit_seal()` then takes
the visible unsealed events in id order and gives each the next `seq`, the previous event's hash
as `prev_hash`, and its own `hash`, in one short transaction per batch. Only one sealer runs at a
time: a transaction-scoped advisory lock on PostgreSQL (taken with try-lock after commit, so a busy
sealer is skipped, never waited for), the database's single write lock on SQLite (the settings
open every transaction with BEGIN IMMEDIATE). Chain order is sealing order: an event with a lower
id that commits later is simply sealed later, so what was sealed is never reordered and `seq`
has no gaps. Sealing runs right after commit of an audit-writing transaction (at most
`SEAL_AFTER_COMMIT_BATCHES` batches, so a request never pays for a backlog; at most once per
settings.AUDIT_SEAL_INTERVAL_MS in a process, so under load one sealing takes many requests'
events) and from the periodic job (moderation/periodic/services.py), which seals stragglers within
minutes; verification
(moderation/audit/chain_verify.py) reports an event left unsealed longer than `UNSEALED_GRACE` as
a failure.

Canonical form (for an outside auditor to re-implement). An event's hash is the lowercase hex
SHA-256 of the UTF-8 bytes of this JSON object, serialised per RFC 8785 (JSON Canonicalization
Scheme: no whitespace, keys sorted by UTF-16 code units, strings escaped as ECMAScript's
JSON.stringify does, numbers as ECMAScript's Number.prototype.toString of the IEEE-754 double):

    actor_id     integer or null      the acting user's id
    actor_label  string
    after        the JSON value, or null
    before       the JSON value, or null
    case_id      integer or null
    created_at   string "YYYY-MM-DDTHH:MM:SS.ffffffZ": UTC, always six fraction digits
    id           integer
    ip           string as the database returns it (IPv4 dotted, IPv6 compressed), or null
    object_id    string
    object_type  string
    prev_hash    the previous event's hash; 64 zeros for the first event (seq 1)
    seq          integer, the position in the chain: 1, 2, 3, ... without gaps
    verb         string

Numbers inside before/after go through the IEEE-754 double (as RFC 8785 does), so the bytes do
not depend on how a database spells them: PostgreSQL's jsonb turns 1e20 into
100000000000000000000 and keeps 1.0 as 1.0, SQLite keeps Python's text; both canonicalise to
1e+20 / 1. Integers beyond ±2^53 therefore lose their last digits in the hash (Vigil writes none).
"""

import hashlib
import json
import json.encoder
import json.scanner
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from json.encoder import encode_basestring

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Func, TextField
from django.db.models.functions import Cast

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
SEAL_BATCH = 1000
SEAL_AFTER_COMMIT_BATCHES = 2
UNSEALED_GRACE = timedelta(minutes=30)
VERIFY_BATCH = 5000
# pg_try_advisory_xact_lock key: "vigilaud" as a 64-bit integer, unlikely to clash.
LOCK_KEY = int.from_bytes(b"vigilaud", "big") - (1 << 63)
_MAX_EXACT = 2**53

# Fields read to hash an event (before/after as their stored JSON text).
CONTENT = (
    "id",
    "actor_id",
    "actor_label",
    "verb",
    "object_type",
    "object_id",
    "case_id",
    "before_text",
    "after_text",
    "ip",
    "created_at",
)


# --- canonical form ------------------------------------------------------------------------


def canonical_number(value: float | int) -> str:
    """ECMAScript Number.prototype.toString of the double nearest `value` (RFC 8785 §3.2.2.3)."""
    if isinstance(value, int) and abs(value) <= _MAX_EXACT:
        return str(value)
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        # JSON has no such numbers; PostgreSQL refuses them. Spelled as Python's json does.
        return json.dumps(value)
    if value == 0:
        return "0"
    if 1e-4 <= abs(value) < 1e16:
        # Python's repr has the same shortest round-trip digits and, in this range, writes them
        # positionally as ECMAScript does; only an integral value's ".0" differs.
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return _es_number(value)


def _es_number(value: float) -> str:
    """Number.prototype.toString of a finite, non-zero double, spelled out from its digits."""
    sign, digits, exp = Decimal(repr(abs(value))).as_tuple()
    while len(digits) > 1 and digits[-1] == 0:
        digits, exp = digits[:-1], exp + 1
    s = "".join(map(str, digits))
    k, n = len(s), exp + len(s)
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + s
    else:
        e = n - 1
        out = (s if k == 1 else s[0] + "." + s[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return ("-" if value < 0 else "") + out


def canonical_json(value) -> str:
    """RFC 8785 serialisation of a JSON value (the slow, general path)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return canonical_number(value)
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return (
            "{" + ",".join(encode_basestring(k) + ":" + canonical_json(v) for k, v in items) + "}"
        )
    raise TypeError(f"not a JSON value: {type(value).__name__}")


class _SlowPath(Exception):
    pass


def _refuse_float(text):
    raise _SlowPath


def _int_or_slow(text):
    # 16 digits may exceed 2^53, where the canonical form goes through the double.
    if len(text.lstrip("-")) > 15:
        raise _SlowPath
    return int(text)


# Built once (json.dumps/json.loads with options build a new encoder/decoder on every call) and
# called at the C level: verification hashes millions of payloads.
_FAST_SCAN = json.scanner.make_scanner(
    json.JSONDecoder(parse_float=_refuse_float, parse_int=_int_or_slow)
)
_FAST_ENCODE = (json.encoder.c_make_encoder or (lambda *a: None))(
    None, None, encode_basestring, None, ":", ",", True, False, True
)
_FAST_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _fast(text: str) -> str:
    value, end = _FAST_SCAN(text, 0)
    if end != len(text):  # trailing whitespace, or more: let the full decoder judge
        value = json.loads(text, parse_float=_refuse_float, parse_int=_int_or_slow)
    if _FAST_ENCODE is None or not isinstance(value, dict | list):
        return _FAST_ENCODER.encode(value)
    return "".join(_FAST_ENCODE(value, 0))


@lru_cache(maxsize=4096)
def canonical_json_text(text: str | None) -> str:
    """Canonical form of stored JSON text. Most payloads hold no floats, no huge integers and no
    characters beyond the BMP; for them Python's C encoder with sorted keys writes exactly the
    RFC 8785 bytes, so only the rest take the slow path. Cached: payloads repeat a lot."""
    if text is None:
        return "null"
    # Beyond the BMP (raw, or escaped as a surrogate pair) UTF-16 order differs from Python's.
    bmp = (text.isascii() or max(text) <= "\uffff") and "\\ud" not in text and "\\uD" not in text
    if bmp:
        try:
            return _fast(text)
        except _SlowPath:
            pass
    return canonical_json(json.loads(text))


def canonical_time(value: datetime | str) -> str:
    if isinstance(value, str):  # written in this form by the database (see _content)
        return value
    if value.tzinfo is UTC:
        return value.isoformat(timespec="microseconds")[:-6] + "Z"
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_event(row: tuple, *, seq: int, prev_hash: str) -> bytes:
    """The canonical bytes of one event: `row` holds the CONTENT fields in that order. Built by
    hand in sorted key order (same bytes as canonical_json of the object; a test holds it)."""
    (id_, actor_id, label, verb, object_type, object_id, case_id, before, after, ip, at) = row
    # One f-string rather than thirty concatenations: this runs for every event verified.
    return (
        f'{{"actor_id":{"null" if actor_id is None else int(actor_id)}'
        f',"actor_label":{encode_basestring(label)}'
        f',"after":{canonical_json_text(after)}'
        f',"before":{canonical_json_text(before)}'
        f',"case_id":{"null" if case_id is None else int(case_id)}'
        f',"created_at":"{canonical_time(at)}"'
        f',"id":{int(id_)}'
        f',"ip":{"null" if ip is None else encode_basestring(str(ip))}'
        f',"object_id":{encode_basestring(object_id)}'
        f',"object_type":{encode_basestring(object_type)}'
        f',"prev_hash":"{prev_hash}"'
        f',"seq":{int(seq)}'
        f',"verb":{encode_basestring(verb)}}}'
    ).encode("utf-8", "surrogatepass")


def event_hash(row: tuple, *, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(canonical_event(row, seq=seq, prev_hash=prev_hash)).hexdigest()


# PostgreSQL writes created_at in the canonical form itself ("YYYY-MM-DDTHH:MM:SS.ffffffZ",
# always six fraction digits, as canonical_time does; a test holds the two equal): parsing
# millions of timestamps into datetimes only to format them again is a good part of verifying.
CANONICAL_TIME_SQL = (
    "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
)


def _content(queryset, *leading: str):
    """values_list of the `leading` fields and then the CONTENT fields (before/after as their
    JSON text)."""
    fields, annotations = (
        CONTENT,
        {
            "before_text": Cast("before", TextField()),
            "after_text": Cast("after", TextField()),
        },
    )
    if connections[queryset.db].vendor == "postgresql":
        fields = (*CONTENT[:-1], "created_text")
        annotations["created_text"] = Func(
            "created_at", template=CANONICAL_TIME_SQL, output_field=TextField()
        )
    return queryset.annotate(**annotations).values_list(*leading, *fields)


# --- sealing ---------------------------------------------------------------------------------


def _model():
    # Imported when sealing: verifying workers are spawned processes that import this module
    # (moderation/audit/chain_verify.py) before they set Django up.
    from moderation.audit.models import AuditEvent

    return AuditEvent


def _seal_batch(model, alias: str, batch: int, wait: bool, after_id: int) -> tuple[int, int] | None:
    """Seal up to `batch` unsealed events with ids above `after_id`; returns how many and the
    last id sealed, or None when another sealer holds the lock (PostgreSQL)."""
    connection = connections[alias]
    table = connection.ops.quote_name(model._meta.db_table)
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            fn = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
            cursor.execute(f"SELECT {fn}(%s)", [LOCK_KEY])
            if not wait and not cursor.fetchone()[0]:
                return None
        # SQLite: BEGIN IMMEDIATE (settings) already holds the database's only write lock.
        events = model._default_manager.using(alias)
        head = events.filter(seq__isnull=False).order_by("-seq").values_list("seq", "hash").first()
        seq, prev = head or (0, GENESIS)
        unsealed = events.filter(seq__isnull=True, id__gt=after_id).order_by("id")
        rows = list(_content(unsealed)[:batch])
        if not rows:
            return 0, after_id
        updates = []
        for row in rows:
            seq += 1
            digest = event_hash(row, seq=seq, prev_hash=prev)
            updates.append((row[0], seq, prev, digest))
            prev = digest
        if connection.vendor == "postgresql":
            ids, seqs, prevs, hashes = zip(*updates, strict=True)
            cursor.execute(
                # The table name comes from the model, never from input.
                f"UPDATE {table} AS a SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "  # noqa: S608
                "FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::bigint[]) AS seq, "
                "unnest(%s::varchar[]) AS prev_hash, unnest(%s::varchar[]) AS hash) AS v "
                "WHERE a.id = v.id AND a.seq IS NULL",
                [list(ids), list(seqs), list(prevs), list(hashes)],
            )
            done = cursor.rowcount
        else:
            cursor.executemany(
                f"UPDATE {table} SET seq = %s, prev_hash = %s, hash = %s "  # noqa: S608
                "WHERE id = %s AND seq IS NULL",
                [(s, p, h, i) for i, s, p, h in updates],
            )
            done = len(updates)
        if done != len(updates):
            # Cannot happen while sealers hold the lock; never commit a chain with a hole.
            raise RuntimeError(f"sealed {done} of {len(updates)} audit events; rolled back")
        return len(updates), rows[-1][0]


def audit_seal(
    *,
    max_batches: int | None = None,
    batch: int = SEAL_BATCH,
    wait: bool = False,
    model=None,
    using: str = "default",
) -> int:
    """Seal unsealed audit events into the chain; returns how many. Without `wait`, gives up at
    once when another sealer is running (it will seal what is visible to it; what it misses is
    sealed by the next audit commit or the periodic job)."""
    model = model or _model()
    total = batches = after_id = 0
    while max_batches is None or batches < max_batches:
        # Keyset on id after the first batch: the unsealed index's front fills with dead entries
        # as rows are sealed, and rescanning them each batch would make a backlog quadratic. An
        # event with a lower id that commits meanwhile is sealed by the next call.
        outcome = _seal_batch(model, using, batch, wait, after_id)
        batches += 1
        if outcome is None:
            break
        done, after_id = outcome
        total += done
        if done < batch:
            break
    return total


# When this process last sealed after a commit (time.monotonic()).
_last_seal_after_commit = [float("-inf")]


def _seal_after_commit() -> None:
    # At most once per AUDIT_SEAL_INTERVAL_MS per process: under load one sealing takes the events
    # of many requests rather than every request paying a sealing transaction for its own one or
    # two (bench/intake.py). Events committed meanwhile wait for this process's next commit after
    # the interval, another process's, or the periodic job's run.
    now = time.monotonic()
    if now - _last_seal_after_commit[0] < settings.AUDIT_SEAL_INTERVAL_MS / 1000:
        return
    _last_seal_after_commit[0] = now
    try:
        audit_seal(max_batches=SEAL_AFTER_COMMIT_BATCHES)
    except Exception:
        # The change and its event are committed; the periodic job seals what is left.
        logger.exception("could not seal audit events after commit")


def audit_seal_on_commit(using: str = "default") -> None:
    """Seal after the current transaction commits; once per transaction however many events."""
    connection = connections[using]
    if any(item[1] is _seal_after_commit for item in connection.run_on_commit):
        return
    transaction.on_commit(_seal_after_commit, using=using)
