"""The supervisors' audit browser: filters, keyset pages, readable changes and the CSV export.

Pages are cut by id (`before` / `after`), never by OFFSET, and nothing counts the matches: each
page costs a few index probes however many millions of events there are. Every filter has an
index that leads with it and ends with id (migrations 0026, 0027), so "newest first" reads in
order, and a time range becomes a range of ids (see `_first_id_at`).
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django import forms
from django.db import connection, models, transaction
from django.db.models.functions import Coalesce

from accounts.models import User
from lib.text import is_storable
from moderation.audit.models import AuditEvent
from moderation.audit.names import event_name, object_noun, vigil_object_types
from moderation.audit.services import audit_record

PAGE_SIZE = 50
# Rows fetched per query while streaming the CSV: memory stays bounded however many match.
EXPORT_CHUNK = 1000
MAX_ID = 2**63 - 1
# How far apart the clocks that stamp created_at may be (web servers, workers): ids are taken in
# insertion order, times from each machine's clock, so a time bound is an id bound within this.
CLOCK_SLACK = timedelta(minutes=5)
# The parameters that describe a filter (the page's position, before/after, is not one).
FILTER_FIELDS = ("actor", "verb", "object_type", "object_id", "case", "from", "to")
CSV_FIELDS = [
    "id",
    "created_at",
    "actor_id",
    "actor_label",
    "verb",
    "object_type",
    "object_id",
    "case_id",
    "ip",
    "before",
    "after",
]


def object_types() -> list[tuple[str, str]]:
    """(type, name) of each of Vigil's own models, by name: Django's internals (sessions,
    permissions, content types, the admin's log) are never what an audit event is about."""
    return sorted(((t, object_noun(t)) for t in vigil_object_types()), key=lambda tn: tn[1])


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="Actor")
    verb = forms.CharField(required=False, max_length=64, label="Event")
    object_type = forms.ChoiceField(required=False, label="Object type")
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    case = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, label="Case")
    before = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    after = forms.IntegerField(required=False, min_value=0, max_value=MAX_ID)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [("", "Any"), *object_types()]
        local = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
        self.fields["from"] = forms.DateTimeField(required=False, label="From", widget=local)
        self.fields["to"] = forms.DateTimeField(required=False, label="To", widget=local)
        self.user = None

    def _text(self, name: str) -> str:
        value = self.cleaned_data.get(name, "").strip()
        if not is_storable(value):
            raise forms.ValidationError("This text holds characters that cannot be searched.")
        return value

    def clean_actor(self):
        username = self._text("actor")
        if username:
            self.user = User.objects.filter(username=username).first()
            if self.user is None:
                raise forms.ValidationError(f"No user is named “{username}”.")
        return username

    def clean_verb(self):
        return self._text("verb")

    def clean_object_id(self):
        return self._text("object_id")

    def clean(self):
        data = super().clean()
        if data.get("object_id") and not data.get("object_type"):
            self.add_error("object_type", "Choose the object's type to look for an object id.")
        start, end = data.get("from"), data.get("to")
        if start and end and start >= end:
            self.add_error("to", "The time range ends before it starts.")
        if data.get("before") and data.get("after") is not None:
            self.add_error(None, "Ask for events before or after an event, not both.")
        return data

    def filters(self) -> dict:
        """The filter as the user gave it, for the export's audit record: only what is set."""
        out = {}
        for name in FILTER_FIELDS:
            value = self.cleaned_data.get(name)
            if value not in (None, ""):
                out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def audit_events(form: AuditFilterForm):
    """The events the (valid) form's filter matches, unordered."""
    data = form.cleaned_data
    events = AuditEvent.objects.all()
    if form.user is not None:
        events = events.filter(actor=form.user)
    if data.get("verb"):
        events = events.filter(verb=data["verb"])
    if data.get("object_type"):
        events = events.filter(object_type=data["object_type"])
        if data.get("object_id"):
            events = events.filter(object_id=data["object_id"])
    if data.get("case"):
        events = events.filter(case_id=data["case"])
    # A time range also bounds the ids, so that it narrows the index scan of every other filter
    # (and of "newest first" itself) instead of being checked row by row over millions.
    if data.get("from"):
        events = events.filter(created_at__gte=data["from"])
        lowest = _first_id_at(data["from"], -CLOCK_SLACK)
        if lowest is not None:
            events = events.filter(id__gte=lowest)
    if data.get("to"):
        events = events.filter(created_at__lt=data["to"])
        beyond = _first_id_at(data["to"], CLOCK_SLACK)
        if beyond is not None:
            events = events.filter(id__lt=beyond)
    return events


def _first_id_at(moment: datetime, slack: timedelta):
    """A subquery: the id of the first event stamped at or after `moment + slack` (MAX_ID when
    there is none). Read off the created_at index: one row. None at the ends of the calendar."""
    try:
        moment = moment + slack
    except OverflowError:
        return None
    first = AuditEvent.objects.filter(created_at__gte=moment).order_by("created_at").values("id")
    return Coalesce(
        models.Subquery(first[:1]), models.Value(MAX_ID), output_field=models.BigIntegerField()
    )


@dataclass
class Page:
    events: list
    newer: int | None  # `after` for the link to newer events, None when there are none
    older: int | None  # `before` for the link to older events


def audit_page(events, *, before: int | None = None, after: int | None = None) -> Page:
    """One page of `events`, newest first, cut at an id. At most two queries."""
    if after is not None:
        rows = list(events.filter(id__gt=after).order_by("id")[: PAGE_SIZE + 1])
        more_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        more_older = bool(rows) and events.filter(id__lt=rows[-1].id).exists()
    else:
        page = events.filter(id__lt=before) if before else events
        rows = list(page.order_by("-id")[: PAGE_SIZE + 1])
        more_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        more_newer = bool(before) and bool(rows) and events.filter(id__gt=rows[0].id).exists()
    return Page(
        events=rows,
        newer=rows[0].id if more_newer else None,
        older=rows[-1].id if more_older else None,
    )


# A loose index scan (one probe of the column's index per value), as a plain DISTINCT would read
# the whole index: millions of entries for a few dozen values. Table and columns are named
# here, never taken from the request.
_DISTINCT_SQL = {
    column: f"""
        WITH RECURSIVE found(v) AS (
            SELECT MIN({column}) FROM moderation_auditevent
            UNION ALL
            SELECT (SELECT MIN({column}) FROM moderation_auditevent WHERE {column} > found.v)
            FROM found WHERE found.v IS NOT NULL
        )
        SELECT v FROM found WHERE v IS NOT NULL
    """  # noqa: S608 (the two column names above, nothing else)
    for column in ("verb", "object_type")
}


def _distinct(column: str) -> list[str]:
    """Every value of an indexed column of the log ("verb", "object_type")."""
    with connection.cursor() as cursor:
        cursor.execute(_DISTINCT_SQL[column])
        return [row[0] for row in cursor.fetchall()]


def audit_verbs() -> list[tuple[str, str]]:
    """(verb, name) of every verb in the log, by name."""
    return sorted(((v, event_name(v)) for v in _distinct("verb")), key=lambda vn: vn[1])


def logged_object_types(selected: str = "") -> list[tuple[str, str]]:
    """(type, name) of the types the log holds events about, by name: what the object filter
    offers. Only Vigil's own models; `selected` too, so a link to a type not yet in the log
    still shows what it filters on."""
    ours = set(vigil_object_types())
    present = {t for t in _distinct("object_type") if t in ours}
    if selected in ours:
        present.add(selected)
    return sorted(((t, object_noun(t)) for t in present), key=lambda tn: tn[1])


def actor_choices() -> list[str]:
    """Usernames offered in the actor box: the people who hold a console role."""
    return list(
        User.objects.filter(groups__isnull=False)
        .order_by("username")
        .values_list("username", flat=True)
        .distinct()[:500]
    )


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def change_rows(before, after) -> list[tuple[str, str, str, bool]]:
    """(field, before, after, changed) for each field of a change, so a reader sees at a glance
    what moved. Records that are not objects show whole, in one row."""
    if isinstance(before, dict | None) and isinstance(after, dict | None):
        if before is None and after is None:
            return []
        old, new = before or {}, after or {}
        rows = []
        for key in sorted(old.keys() | new.keys()):
            o = _json(old[key]) if key in old else ""
            n = _json(new[key]) if key in new else ""
            rows.append((key, o, n, key not in old or key not in new or old[key] != new[key]))
        return rows
    o = "" if before is None else _json(before)
    n = "" if after is None else _json(after)
    return [("", o, n, o != n)]


# A value short enough to stand in the summary line itself.
SUMMARY_VALUE = 40
SUMMARY_FIELDS = 4


def change_summary(rows: list[tuple[str, str, str, bool]]) -> str:
    """One line saying what a change did, from its `change_rows`, for the row of the log (the
    rows themselves open beneath it): "Changed: status, owner", "Recorded: action, policy and
    3 more", or a single short change in full: "status: "open" → "closed"". Empty for none."""
    if not rows:
        return ""
    moved = [row for row in rows if row[3]] or rows
    if len(moved) == 1:
        field, old, new, _ = moved[0]
        if len(old) <= SUMMARY_VALUE and len(new) <= SUMMARY_VALUE:
            value = f"{old} → {new}" if old and new else (new or f"{old} removed")
            return f"{field}: {value}" if field else value
    if not any(field for field, *_ in moved):
        return "The whole record"
    if all(not old for _, old, _, _ in moved):
        kind = "Recorded"
    elif all(not new for _, _, new, _ in moved):
        kind = "Removed"
    else:
        kind = "Changed"
    names = [field for field, *_ in moved]
    listed = ", ".join(names[:SUMMARY_FIELDS])
    if len(names) > SUMMARY_FIELDS:
        listed += f" and {len(names) - SUMMARY_FIELDS} more"
    return f"{kind}: {listed}"


def audit_export_record(*, user, filters: dict, ip: str | None = None) -> AuditEvent:
    """Record that `user` exported the events matching `filters`. Written before the first byte
    goes out, so an export cut short is still on record; the file holds the matching events
    older than this record."""
    with transaction.atomic(durable=True):
        return audit_record(
            verb="audit.exported",
            obj=user,
            actor=user,
            after={"filter": filters, "format": "csv"},
            ip=ip,
        )


def _cell(value) -> str:
    """Text as a spreadsheet will not run it as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_rows(events, *, upto: int):
    """The CSV rows of `events` with ids below `upto`, newest first, fetched a chunk at a time."""
    yield CSV_FIELDS
    last = upto
    while True:
        chunk = list(
            events.filter(id__lt=last).order_by("-id").values_list(*CSV_FIELDS)[:EXPORT_CHUNK]
        )
        for row in chunk:
            values = dict(zip(CSV_FIELDS, row, strict=True))
            values["created_at"] = values["created_at"].isoformat()
            for name in ("before", "after"):
                values[name] = "" if values[name] is None else _json(values[name])
            yield [_cell(values[f]) for f in CSV_FIELDS]
        if len(chunk) < EXPORT_CHUNK:
            return
        last = chunk[-1][0]
