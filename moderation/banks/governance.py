"""Match governance: which of the matches recorded a bank's policy acts on.

- Allow-list banks hold known false positives (logos, memes). A media's match to one suppresses
  its matches to every other bank (Match.suppressed_by), whichever was recorded first; an
  allow-list bank's own matches never act.
- The flood guard: an entry that has matched more than its bank's `flood_limit` distinct media
  within `flood_window_minutes` is quarantined before its policy acts on the match that crossed
  the line, and supervisors are told (the inbox); they release it or remove it. Its matches are
  still recorded while it is quarantined; they do not act.
- A removed entry's matches are marked withdrawn (services.py) and count no more.

A match counts (ACTING) when none of these holds. Routing reads the same rule
(moderation/cases/routing.py, which cannot import this layer, spells it over Media.matches).
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.models import AuditEvent
from moderation.audit.services import audit_record
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.banks.policy import ACTING, case_reapply_matches
from moderation.cases.models import Case
from moderation.cases.rollup import case_refresh_priority

FLOOD_GUARD = "flood guard"
# The matches of a media that suppress its other matches: an allow-list bank's, still counting.
SUPPRESSING = Q(
    entry__bank__is_allow_list=True, withdrawn_at__isnull=True, entry__quarantined_at__isnull=True
)


@dataclass
class Governed:
    """What governance made of a media's new matches."""

    # The banks whose policy acts on them.
    acting: list[HashBank] = field(default_factory=list)
    # The allow-list match suppressing the media's other matches, if any.
    suppressed_by: Match | None = None
    # Matches recorded before this one, which may have acted, are suppressed from now on.
    suppressed_earlier: bool = False
    quarantined: list[int] = field(default_factory=list)
    # Entries removed between the matching and this transaction: matched, withdrawn at once.
    withdrawn: list[int] = field(default_factory=list)

    def audit(self) -> dict:
        out = {}
        if self.suppressed_by is not None:
            out["suppressed_by"] = self.suppressed_by.entry.bank.slug
        if self.quarantined:
            out["quarantined"] = self.quarantined
        if self.withdrawn:
            out["withdrawn"] = self.withdrawn
        return out


@in_transaction
def matches_record(*, media, hits) -> Governed:
    """Store a media's new bank matches (`hits`, moderation/banks/matching.Hit) and decide which
    act. Call inside the transaction that holds the media locked.

    The hits' entries are locked first, in id order, before the matches are written: the flood
    guard counts an entry's matches under that lock, so two workers matching it at once count
    one after the other and never both slip past its limit (and an entry removed meanwhile is
    seen removed). Locking before the insert matters on PostgreSQL: the insert's foreign key
    takes a share lock on the entry, and two transactions each holding one and asking for the
    entry's update lock would deadlock."""
    now = timezone.now()
    entries = list(
        BankEntry.objects.select_for_update(of=("self",))
        .select_related("bank")
        .filter(pk__in=sorted({h.entry_id for h in hits}))
        .order_by("pk")
    )
    Match.objects.bulk_create(
        [
            Match(
                media=media,
                entry_id=h.entry_id,
                signal_type=h.signal_type,
                distance=h.distance,
                variant=h.variant,
                segments=list(h.segments),
                query_percent=h.query_percent,
                compared_percent=h.compared_percent,
                matched_at=now,
            )
            for h in hits
        ],
        ignore_conflicts=True,
    )
    governed = Governed()
    removed = [e.pk for e in entries if e.removed_at is not None]
    if removed:
        Match.objects.filter(media=media, entry_id__in=removed, withdrawn_at__isnull=True).update(
            withdrawn_at=now
        )
        governed.withdrawn = removed
    live = [e for e in entries if e.removed_at is None]
    for entry in live:
        if _flooded(entry, now):
            governed.quarantined.append(entry.pk)
    governed.suppressed_by = (
        Match.objects.filter(SUPPRESSING, media=media)
        .select_related("entry__bank")
        .order_by("pk")
        .first()
    )
    if governed.suppressed_by is not None:
        # Whichever came first: the allow-list match suppresses every other bank's match of the
        # media, those recorded before it included.
        new = {e.pk for e in entries}
        freshly = Match.objects.filter(
            media=media, suppressed_by__isnull=True, entry__bank__is_allow_list=False
        )
        governed.suppressed_earlier = freshly.exclude(entry_id__in=new).exists()
        freshly.update(suppressed_by=governed.suppressed_by)
        return governed
    banks = {}
    for entry in live:
        if not entry.bank.is_allow_list and entry.quarantined_at is None:
            banks.setdefault(entry.bank_id, entry.bank)
    governed.acting = list(banks.values())
    return governed


def _flooded(entry: BankEntry, now) -> bool:
    """Quarantine `entry` (locked) if it has now matched more distinct media than its bank's
    flood limit within the window. Allow-list banks are left out: their entries are there
    because they are common (a logo matches thousands), and quarantining one would lift its
    suppression. Counted since the window's start, or since a supervisor last released it (a
    release means "this surge is sound": the flood that led to it does not count twice)."""
    bank = entry.bank
    if entry.quarantined_at is not None or bank.is_allow_list or not bank.flood_limit:
        return False
    since = now - timedelta(minutes=bank.flood_window_minutes)
    matched = Match.objects.filter(entry=entry, matched_at__gte=since)
    # (media, entry) is unique: matches counted are distinct media. No further than the limit.
    if matched[: bank.flood_limit + 1].count() <= bank.flood_limit:
        return False
    released = _last_release(entry)
    if released is not None and released > since:
        matched = matched.filter(matched_at__gte=released)
        if matched[: bank.flood_limit + 1].count() <= bank.flood_limit:
            return False
    entry.quarantined_at = now
    entry.quarantine_reason = (
        f"matched more than {bank.flood_limit} distinct media within "
        f"{bank.flood_window_minutes} minutes"
    )[:300]
    BankEntry.objects.filter(pk=entry.pk).update(
        quarantined_at=entry.quarantined_at, quarantine_reason=entry.quarantine_reason
    )
    audit_record(
        verb="bankentry.quarantined",
        obj=entry,
        actor_label=FLOOD_GUARD,
        before={"bank": bank.slug, "signal_type": entry.signal_type, "value": entry.value},
        after={
            "reason": entry.quarantine_reason,
            "flood_limit": bank.flood_limit,
            "flood_window_minutes": bank.flood_window_minutes,
        },
    )
    return True


def _last_release(entry: BankEntry):
    """When a supervisor last released the entry from quarantine (the audit log is the record of
    it; read only when the entry is over its limit)."""
    return (
        AuditEvent.objects.filter(
            object_type=BankEntry._meta.label_lower,
            object_id=str(entry.pk),
            verb="bankentry.released",
        )
        .order_by("-id")
        .values_list("created_at", flat=True)
        .first()
    )


def open_cases_of(matches) -> list[int]:
    """The ids of the open cases whose media have these matches (a Match queryset)."""
    media = matches.values("media_id")
    return sorted(
        Case.objects.filter(status=Case.Status.OPEN)
        .filter(Q(reports__media__in=media) | Q(flags__media__in=media))
        .values_list("pk", flat=True)
        .distinct()
    )


def cases_reapply_matches(*, case_ids: list[int], why: str) -> int:
    """Bring each open case's bank match level, priority and routing back to what its media's
    matches that still count say (policy.case_reapply_matches), one locked case per transaction:
    after some were withdrawn, suppressed, or an entry's quarantine ended. Returns how many
    cases changed."""
    changed = 0
    for case_id in sorted(set(case_ids)):
        with transaction.atomic(durable=True):
            case = (
                Case.objects.select_for_update(of=("self",))
                .select_related("queue", "content_item")
                .filter(pk=case_id, status=Case.Status.OPEN)
                .first()
            )
            if case is None:
                continue
            before = {"bank_match_level": case.bank_match_level, "label": case.bank_match_label}
            done = case_reapply_matches(case=case)
            case_refresh_priority(case=case)
            after = {"bank_match_level": case.bank_match_level, "label": case.bank_match_label}
            if before != after or done:
                changed += 1
                audit_record(
                    verb="case.bank_matches_reapplied",
                    obj=case,
                    case=case,
                    actor_label="bank governance",
                    before=before,
                    after={**after, "why": why, "done": done},
                )
    return changed


__all__ = ["ACTING", "Governed", "cases_reapply_matches", "matches_record", "open_cases_of"]
