"""Learning from decisions: the "confirmed by review" bank.

Media a reviewer's decision found to be CSAM (a finding classified A1-B2) is hashed into this bank,
with the decision as provenance (its case and reviewer with it). The bank's policy is known
material, so a re-share — the same file, or a resized or re-encoded copy within the PDQ threshold —
matches at intake and is acted on at once, and media already waiting in open cases is matched
again. When the decision is overturned (on appeal, or a supervisor sides with a re-review), what it
added is withdrawn. Vigil's own list is also what issue 18 shares with partner platforms.
"""

from django.db.models import Q
from django.utils import timezone

from lib.transactions import in_transaction
from moderation.audit.services import audit_record
from moderation.banks.jobs import rematch_open_cases
from moderation.banks.models import MIN_PDQ_QUALITY, BankEntry, BankVersion, HashBank
from moderation.banks.services import entries_withdraw
from moderation.banks.snapshot import bank_write_gate
from moderation.decisions.models import Decision
from moderation.outbox.services import enqueue
from reports.models import Media

CONFIRMED_BANK_SLUG = "confirmed-by-review"
CONFIRMED_SIGNALS = ("pdq", "md5", "sha256")


def confirmed_bank() -> HashBank | None:
    """The bank decisions add to (created by migration 0033; an administrator may switch it off)."""
    return HashBank.objects.filter(slug=CONFIRMED_BANK_SLUG, is_active=True).first()


@in_transaction
def decision_confirm_media(*, decision: Decision) -> list[BankEntry]:
    """Add the hashes of the decided case's media to the confirmed bank, the decision as their
    provenance. Hashes the bank already lists keep their first provenance. Call inside the
    decision's transaction; the rematch of open cases runs after commit."""
    bank = confirmed_bank()
    if bank is None:
        return []
    bank_write_gate()
    case = decision.case
    media = Media.objects.filter(
        Q(report__case=case) | Q(flag__case=case), hashed_at__isnull=False
    ).order_by("pk")
    live = set(
        BankEntry.objects.filter(bank=bank, removed_at__isnull=True)
        .filter(value__in=[v for m in media for v in _values(m, bank).values()])
        .values_list("signal_type", "value")
    )
    now = timezone.now()
    fresh = []
    for m in media:
        for signal_type, value in _values(m, bank).items():
            if (signal_type, value) in live:
                continue
            live.add((signal_type, value))
            fresh.append(
                BankEntry(
                    bank=bank,
                    signal_type=signal_type,
                    value=value,
                    labels=[decision.classification],
                    added_by=decision.reviewer,
                    added_at=now,
                    decision=decision,
                    media=m,
                )
            )
    if not fresh:
        return []
    created = BankEntry.objects.bulk_create(fresh)
    BankVersion.bump()
    ids = [e.pk for e in created]
    enqueue(rematch_open_cases, ids)
    audit_record(
        verb="bank.confirmed_by_review",
        obj=bank,
        case=case,
        actor=decision.reviewer,
        after={
            "decision": decision.pk,
            "classification": decision.classification,
            "entries": [
                {"id": e.pk, "signal_type": e.signal_type, "value": e.value} for e in created
            ],
        },
    )
    return created


def _values(media: Media, bank: HashBank) -> dict[str, str]:
    """The media's hashes the bank can hold and match on: a weak PDQ would match noise, and a
    file damaged in storage keeps only its received SHA-256 (hashing.py)."""
    values = {}
    for signal_type in CONFIRMED_SIGNALS:
        if signal_type not in bank.signal_types:
            continue
        value = getattr(media, signal_type)
        if not value:
            continue
        if signal_type == "pdq" and (media.pdq_quality or 0) < MIN_PDQ_QUALITY:
            continue
        values[signal_type] = value
    return values


@in_transaction
def decision_withdraw_confirmation(*, decision: Decision, by, reason: str) -> int:
    """Take out of the confirmed bank what `decision` put in: it was overturned. Matches already
    made stay on their cases as history, marked withdrawn: they count no more (open cases they
    raised are brought back in line after commit); the entries no longer match anything new.
    Returns how many entries were withdrawn."""
    bank_write_gate()
    entries = entries_withdraw(
        entry_ids=list(
            BankEntry.objects.filter(decision=decision, removed_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
    )
    if not entries:
        return 0
    audit_record(
        verb="bank.confirmation_withdrawn",
        obj=entries[0].bank,
        case=decision.case,
        actor=by,
        before={
            "decision": decision.pk,
            "entries": [
                {"id": e.pk, "signal_type": e.signal_type, "value": e.value} for e in entries
            ],
        },
        after={"reason": reason[:300]},
    )
    return len(entries)
