"""EU Digital Services Act statements of reasons (Article 17, Article 24(5)): read-only selectors.

Every decision that restricts content becomes one statement of reasons in the fields of the EU
DSA Transparency Database's "create statement" API (`POST /api/v1/statement`); where those fields
and values come from, and how Vigil's policies map onto them, is in moderation/dsa/schema.py.

What counts as a statement (each has a `puid` unique within the platform, never reused, of
[A-Za-z0-9_-] only, as the database requires):
- A reviewer's decision that removes or restricts content: remove, age-restrict, suspend,
  escalate. Warnings and safety notices restrict nothing (no statement); neither do "no
  violation" and "send to senior review". puid `<content id>__vigil-decision-<id>`.
- What a known-material bank did on its own (moderation/cases/rollup.py: content removal, owner
  suspension, with no reviewer): one fully automated statement, led by the removal (or the
  suspension when no removal was asked). puid `<content id>__vigil-action-<id>`.
  The puid carries the platform's content id (ContentItem.platform_id, with characters the
  database refuses replaced by "_") so the platform finds the content; an item known only by
  its URL gets the Vigil part alone.
- An appeal's outcome that upholds the decision appealed is no statement of its own: it imposes
  nothing new (the appealed decision's actions stand, and its statement covers them).
- A decision later overturned on appeal, or an automated action a reviewer reversed, is still
  listed: the restriction was applied, and the database keeps statements for restrictions that
  ended. The end shows as `end_date_visibility_restriction` / `end_date_account_restriction`
  (the day the action was reversed at the platform), and the envelope's `overturned_on_appeal`.

What never appears: reviewer notes, the sharer's judged intent, anything about who reported
(the database forbids personal data, and reporters are never disclosed), owner ids or handles.
`decision_facts` and the explanations are fixed texts per policy. `source_identity` is left out
(it would name the notifier). `account_type` is left out: Vigil does not know it.

Other choices: `content_date` is the day the content was posted when the platform said so
(ContentItem.posted_at), else the day Vigil first learned of it; `territorial_scope` comes from
settings.DSA_TERRITORIAL_SCOPE (the EU by default); `content_language` is the content's
language's two-letter code when known.
"""

import base64
import binascii
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from moderation.banks.models import Match
from moderation.decisions.models import Appeal, Decision
from moderation.dsa.schema import (
    BANK_POLICY,
    CONTENT_TYPES,
    FIELDS,
    RESTRICTING,
    ground_fields,
)
from moderation.enforcement.models import EnforcementAction
from reports.models import ContentItem, Flag, Media, Report

# A bank's suspension belongs with its removal when asked in the same go (same case and reason,
# moments apart: one transaction).
PAIRING_WINDOW = timedelta(seconds=60)
EARLIEST_CONTENT_DATE = datetime(2000, 1, 1, tzinfo=UTC)
PUID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
DECISION, AUTOMATED = 0, 1  # statement kinds, in this order among statements of the same instant


class BadCursor(ValueError):
    pass


def _day(moment: datetime | None) -> str | None:
    return timezone.localtime(moment, UTC).date().isoformat() if moment else None


def _content_date(item: ContentItem, when: datetime) -> str:
    """When the content was posted, as the platform said; else when Vigil first heard of it. The
    database takes nothing before 2000 or after the decision."""
    posted = min(item.posted_at or item.created_at, when)
    return _day(max(posted, EARLIEST_CONTENT_DATE))


def _puid(item: ContentItem, suffix: str) -> str:
    content = PUID_UNSAFE.sub("_", item.platform_id)
    return f"{content}__{suffix}" if content else suffix


def _language(tag: str) -> str | None:
    primary = tag.split("-", 1)[0]
    return primary.upper() if len(primary) == 2 and primary.isalpha() else None


def _source(row) -> str:
    if row.dsa_trusted:
        return "SOURCE_TRUSTED_FLAGGER"
    return "SOURCE_ARTICLE_16" if row.dsa_notice else "SOURCE_VOLUNTARY"


def _statement(row, item: ContentItem, *, policy: str, automated: bool, puid: str, when) -> dict:
    types, type_other = CONTENT_TYPES.get(item.type, CONTENT_TYPES[ContentItem.Type.OTHER])
    if row.dsa_has_media and "CONTENT_TYPE_TEXT" in types:
        types = [*types, "CONTENT_TYPE_IMAGE"]
    statement = dict.fromkeys(FIELDS)
    statement |= {
        "content_type": sorted(types),
        "content_type_other": type_other,
        "content_language": _language(item.language),
        "content_date": _content_date(item, when),
        "territorial_scope": list(settings.DSA_TERRITORIAL_SCOPE),
        "application_date": _day(when),
        "source_type": _source(row),
        "automated_detection": ("Yes" if automated or row.dsa_flagged or row.dsa_matched else "No"),
        "automated_decision": (
            "AUTOMATED_DECISION_FULLY" if automated else "AUTOMATED_DECISION_NOT_AUTOMATED"
        ),
        "puid": puid,
    }
    statement |= ground_fields(policy, automated=automated)
    return statement


def _restriction(statement: dict, *, visibility: str | None, account: bool, ends) -> None:
    """Fill in what was restricted, and when each restriction ended (None: still in force)."""
    visibility_end, account_end = ends
    if visibility:
        statement["decision_visibility"] = [visibility]
        statement["end_date_visibility_restriction"] = _day(visibility_end)
    if account:
        statement["decision_account"] = "DECISION_ACCOUNT_SUSPENDED"
        statement["end_date_account_restriction"] = _day(account_end)


def _inputs(queryset, *, case: str, when: str):
    """Annotate what decides source_type, automated_detection and content_type, each as it
    stood at the statement's time (a report that came after a decision is not its source)."""
    at = {"created_at__lte": OuterRef(when)}
    reports = Report.objects.filter(case=OuterRef(case), **at)
    return queryset.annotate(
        dsa_notice=Exists(reports),
        dsa_trusted=Exists(reports.filter(reporter_kind=Report.ReporterKind.TRUSTED_FLAGGER)),
        dsa_flagged=Exists(Flag.objects.filter(case=OuterRef(case), **at)),
        dsa_matched=Exists(
            Match.objects.filter(
                media__content_item=OuterRef(f"{case}__content_item"),
                matched_at__lte=OuterRef(when),
            )
        ),
        dsa_has_media=Exists(Media.objects.filter(content_item=OuterRef(f"{case}__content_item"))),
    )


def _after(cursor, kind: int, *, time_field: str) -> Q:
    """Rows of this kind strictly after the cursor in (time, kind, id) order."""
    if cursor is None:
        return Q()
    moment, ckind, cid = cursor
    later = Q(**{f"{time_field}__gt": moment})
    if kind > ckind:
        return later | Q(**{time_field: moment})
    if kind == ckind:
        return later | Q(**{time_field: moment, "pk__gt": cid})
    return later


def _restricting(decisions):
    """Decisions that impose a restriction. An appeal's outcome that upholds the decision
    appealed imposes nothing new (its actions stand): the upheld decision's statement covers it."""
    upheld = Appeal.objects.filter(outcome=OuterRef("pk"), status=Appeal.Status.UPHELD)
    return decisions.filter(action__in=list(RESTRICTING)).exclude(Exists(upheld))


def _restricting_decisions(since, until):
    return _restricting(Decision.objects.filter(created_at__gte=since, created_at__lt=until))


def _decisions(decisions, cursor, limit: int) -> list[tuple]:
    rows = (
        _inputs(decisions, case="case", when="created_at")
        .filter(_after(cursor, DECISION, time_field="created_at"))
        .annotate(
            dsa_overturned=Exists(
                Appeal.objects.filter(decision=OuterRef("pk"), status__in=Appeal.CHANGED)
            )
        )
        .select_related("case__content_item")
        .prefetch_related("actions")
        .order_by("created_at", "pk")[: limit + 1]
    )
    out = []
    for decision in rows:
        item = decision.case.content_item
        statement = _statement(
            decision,
            item,
            policy=decision.policy,
            automated=False,
            puid=_puid(item, f"vigil-decision-{decision.pk}"),
            when=decision.created_at,
        )
        visibility, suspends = RESTRICTING[decision.action]
        _restriction(
            statement,
            visibility=visibility,
            account=suspends and bool(item.owner_id),
            ends=_ends(decision.actions.all(), decision.action),
        )
        envelope = {
            "id": f"decision-{decision.pk}",
            "decision_id": decision.pk,
            "action_id": None,
            "case_id": decision.case_id,
            "content_id": item.platform_id,
            "decided_at": decision.created_at,
            "overturned_on_appeal": decision.dsa_overturned,
            "statement": statement,
        }
        out.append(((decision.created_at, DECISION, decision.pk), envelope))
    return out


# The action kind carrying each decision's visibility restriction (moderation/review/services.py).
VISIBILITY_KIND = {
    Decision.Action.AGE_RESTRICT: EnforcementAction.Kind.AGE_RESTRICT,
}


def _ends(actions, decision_action: str) -> tuple:
    """When the content's and the account's restrictions ended: the latest reversal among the
    actions of that kind, once all of them are reversed; None while any is in force (or none
    was recorded, e.g. the same action was already in force from a bank match)."""
    by_kind: dict[str, list] = {}
    for action in actions:
        by_kind.setdefault(action.kind, []).append(action.reversed_at)

    def end(kind):
        times = by_kind.get(kind)
        return max(times) if times and all(times) else None

    visibility = VISIBILITY_KIND.get(decision_action, EnforcementAction.Kind.REMOVE_CONTENT)
    return end(visibility), end(EnforcementAction.Kind.SUSPEND_ACCOUNT)


def _automated_leads(since, until):
    """Automated actions that lead a statement: each bank removal, and each bank suspension
    not asked together with a removal."""
    automated = EnforcementAction.objects.filter(decision__isnull=True)
    removal = automated.filter(
        kind=EnforcementAction.Kind.REMOVE_CONTENT,
        case=OuterRef("case"),
        reason=OuterRef("reason"),
    )
    suspension = automated.filter(
        kind=EnforcementAction.Kind.SUSPEND_ACCOUNT,
        case=OuterRef("case"),
        reason=OuterRef("reason"),
        pk__gt=OuterRef("pk"),
        created_at__lte=OuterRef("created_at") + PAIRING_WINDOW,
    ).order_by("pk")
    return (
        automated.filter(created_at__gte=since, created_at__lt=until)
        .filter(
            Q(kind=EnforcementAction.Kind.REMOVE_CONTENT)
            | Q(kind=EnforcementAction.Kind.SUSPEND_ACCOUNT)
            # A suspension asked together with a removal is in the removal's statement.
            & ~Exists(
                removal.filter(
                    pk__lt=OuterRef("pk"), created_at__gte=OuterRef("created_at") - PAIRING_WINDOW
                )
            )
        )
        .annotate(
            dsa_suspension=Exists(suspension),
            dsa_suspension_end=Subquery(suspension.values("reversed_at")[:1]),
        )
    )


def _automated(since, until, cursor, limit: int) -> list[tuple]:
    rows = (
        _inputs(_automated_leads(since, until), case="case", when="created_at")
        .filter(_after(cursor, AUTOMATED, time_field="created_at"))
        .select_related("case__content_item")
        .order_by("created_at", "pk")[: limit + 1]
    )
    out = []
    for action in rows:
        item = action.case.content_item
        removes = action.kind == EnforcementAction.Kind.REMOVE_CONTENT
        statement = _statement(
            action,
            item,
            policy=BANK_POLICY,
            automated=True,
            puid=_puid(item, f"vigil-action-{action.pk}"),
            when=action.created_at,
        )
        _restriction(
            statement,
            visibility="DECISION_VISIBILITY_CONTENT_REMOVED" if removes else None,
            account=not removes or action.dsa_suspension,
            ends=(
                (action.reversed_at, action.dsa_suspension_end)
                if removes
                else (None, action.reversed_at)
            ),
        )
        envelope = {
            "id": f"action-{action.pk}",
            "decision_id": None,
            "action_id": action.pk,
            "case_id": action.case_id,
            "content_id": item.platform_id,
            "decided_at": action.created_at,
            "overturned_on_appeal": False,
            "statement": statement,
        }
        out.append(((action.created_at, AUTOMATED, action.pk), envelope))
    return out


def encode_cursor(key: tuple) -> str:
    moment, kind, pk = key
    raw = f"{moment.isoformat()}|{kind}|{pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        moment, kind, pk = raw.split("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None or int(kind) not in (DECISION, AUTOMATED):
            raise ValueError(raw)
        # A cursor made up by hand: a time with no UTC equivalent, an id no row can have.
        parsed.astimezone(UTC)
        if not 0 < int(pk) < 2**63:
            raise ValueError(raw)
        return parsed, int(kind), int(pk)
    except (ValueError, OverflowError, UnicodeDecodeError, binascii.Error):
        raise BadCursor("This cursor is not one Vigil gave out; start again without it.") from None


def statements_page(
    *, since: datetime, until: datetime, cursor: str = "", limit: int = 100
) -> tuple[list[dict], str | None]:
    """Statements whose decision falls in [since, until), oldest first, and the cursor for the
    next page (None at the end). Three queries a page whatever its size. Stable under paging:
    the order is (decision time, kind, id), and a cursor names the last row given out."""
    after = decode_cursor(cursor) if cursor else None
    rows = sorted(
        _decisions(_restricting_decisions(since, until), after, limit)
        + _automated(since, until, after, limit),
        key=lambda row: row[0],
    )
    page = rows[:limit]
    more = len(rows) > limit
    return [envelope for _, envelope in page], (encode_cursor(page[-1][0]) if more else None)


def statements_iter(*, since: datetime, until: datetime, chunk: int = 500) -> Iterator[dict]:
    """Every statement in [since, until), a page at a time (memory stays bounded)."""
    cursor = ""
    while True:
        page, cursor = statements_page(since=since, until=until, cursor=cursor, limit=chunk)
        yield from page
        if cursor is None:
            return


def statements_count(*, since: datetime, until: datetime) -> int:
    """How many statements statements_iter gives for the period (two COUNT queries)."""
    return _restricting_decisions(since, until).count() + _automated_leads(since, until).count()


def statement_for_decision(decision_id: int) -> dict | None:
    """The statement of one decision; None when it restricts nothing (or does not exist)."""
    decisions = _restricting(Decision.objects.filter(pk=decision_id))
    rows = _decisions(decisions, None, 1)
    return rows[0][1] if rows else None
