"""Bank health, for supervisors: per bank, its size, the exchanges feeding it and how their last
sync went, its matches, its quarantined entries, and how often review disagreed with it.

Disagreement is read two ways. What a supervisor needs first is the review rate, which every bank
has: of the decisions made in the last DISAGREEMENT_DAYS on cases its entries matched (matches an
allow-list suppressed left out: those are known false positives already; referrals to senior
review left out: they decide nothing), the share that found no violation. A bank whose matches
keep being found harmless is sending reviewers false positives, whatever its source. For a bank an
exchange feeds, the programme's feedback rate is shown beside it: disagree / (agree + disagree) of
the verdicts queued for its entries, which is what the programme itself hears.

A fixed number of queries whatever the number of banks, entries, matches and exchanges."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from moderation.banks.models import BankEntry, HashBank, Match
from moderation.decisions.models import Decision
from moderation.exchanges.models import Exchange, ExchangeFeedback, ExchangeSync
from reports.models import Flag, Media, Report

RECENT_DAYS = 7
DISAGREEMENT_DAYS = 90


@dataclass
class Rate:
    disagreed: int = 0
    total: int = 0

    @property
    def percent(self) -> float | None:
        return 100 * self.disagreed / self.total if self.total else None


@dataclass
class BankHealth:
    bank: HashBank
    live: int = 0
    quarantined: int = 0
    matches: int = 0
    matches_recent: int = 0
    exchanges: list[Exchange] = field(default_factory=list)
    review: Rate = field(default_factory=Rate)
    feedback: Rate = field(default_factory=Rate)


def banks_health(now=None) -> list[BankHealth]:
    """Every bank, active ones first, by name."""
    now = now or timezone.now()
    rows = {
        b.pk: BankHealth(bank=b)
        for b in HashBank.objects.select_related("route_to").order_by("-is_active", "name", "pk")
    }
    for bank_id, live, quarantined in (
        BankEntry.objects.values("bank_id")
        .annotate(
            live=Count("pk", filter=Q(removed_at__isnull=True)),
            quarantined=Count(
                "pk", filter=Q(removed_at__isnull=True, quarantined_at__isnull=False)
            ),
        )
        .values_list("bank_id", "live", "quarantined")
    ):
        if bank_id in rows:
            rows[bank_id].live, rows[bank_id].quarantined = live, quarantined
    for bank_id, total, recent in (
        Match.objects.values("entry__bank_id")
        .annotate(
            total=Count("pk"),
            recent=Count("pk", filter=Q(matched_at__gte=now - timedelta(days=RECENT_DAYS))),
        )
        .values_list("entry__bank_id", "total", "recent")
    ):
        if bank_id in rows:
            rows[bank_id].matches, rows[bank_id].matches_recent = total, recent
    for bank_id, disagreed, total in _review_disagreement(now - timedelta(days=DISAGREEMENT_DAYS)):
        if bank_id in rows:
            rows[bank_id].review = Rate(disagreed, total)
    verdict = ExchangeFeedback.Verdict
    for bank_id, disagreed, total in (
        ExchangeFeedback.objects.values("entry__bank_id")
        .annotate(
            disagreed=Count("pk", filter=Q(verdict=verdict.DISAGREE)),
            total=Count("pk", filter=Q(verdict__in=[verdict.AGREE, verdict.DISAGREE])),
        )
        .values_list("entry__bank_id", "disagreed", "total")
    ):
        if bank_id in rows:
            rows[bank_id].feedback = Rate(disagreed, total)
    for exchange in _exchanges_with_latest_sync():
        if exchange.bank_id in rows:
            rows[exchange.bank_id].exchanges.append(exchange)
    return list(rows.values())


def _exchanges_with_latest_sync() -> list[Exchange]:
    """Every exchange with `latest`, its newest sync (or None). Two queries."""
    latest = ExchangeSync.objects.filter(exchange=OuterRef("pk")).order_by("-started_at", "-pk")
    exchanges = list(
        Exchange.objects.annotate(latest_id=Subquery(latest.values("pk")[:1])).order_by(
            "name", "pk"
        )
    )
    syncs = ExchangeSync.objects.in_bulk([e.latest_id for e in exchanges if e.latest_id])
    for exchange in exchanges:
        exchange.latest = syncs.get(exchange.latest_id)
    return exchanges


def _review_disagreement(since) -> list[tuple[int, int, int]]:
    """(bank id, decisions finding no violation, decisions) since `since`, on cases the bank's
    entries matched. One statement: a media file belongs to a report or to a flag, so its case is
    whichever of the two it has (the ORM cannot join on that), and a decision on a case matched
    through both still counts once."""
    tables = {
        "match": Match._meta.db_table,
        "entry": BankEntry._meta.db_table,
        "media": Media._meta.db_table,
        "report": Report._meta.db_table,
        "flag": Flag._meta.db_table,
        "decision": Decision._meta.db_table,
    }
    # Table names from the models; every value travels as a parameter.
    sql = (
        "SELECT e.bank_id, "  # noqa: S608
        "COUNT(DISTINCT CASE WHEN d.action = %s THEN d.id END), COUNT(DISTINCT d.id) "
        f"FROM {tables['match']} m "
        f"JOIN {tables['entry']} e ON e.id = m.entry_id "
        f"JOIN {tables['media']} md ON md.id = m.media_id "
        f"LEFT JOIN {tables['report']} r ON r.id = md.report_id "
        f"LEFT JOIN {tables['flag']} f ON f.id = md.flag_id "
        f"JOIN {tables['decision']} d ON d.case_id = COALESCE(r.case_id, f.case_id) "
        "WHERE m.suppressed_by_id IS NULL AND d.action <> %s AND d.created_at >= %s "
        "GROUP BY e.bank_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Decision.Action.NO_VIOLATION, Decision.Action.SENIOR_REVIEW, since])
        return list(cursor.fetchall())


def quarantined_entries():
    """Live quarantined entries, newest quarantine first, with their bank, exchange and how many
    media each matched since it was quarantined and in all."""
    return (
        BankEntry.objects.filter(quarantined_at__isnull=False, removed_at__isnull=True)
        .select_related("bank", "exchange")
        .annotate(
            matches_total=Count("matches"),
            # Matched while quarantined: recorded, not acted on.
            matches_held=Count("matches", filter=Q(matches__matched_at__gte=F("quarantined_at"))),
        )
        .order_by("-quarantined_at", "-pk")
    )
