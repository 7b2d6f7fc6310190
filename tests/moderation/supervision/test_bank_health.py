"""Bank health (/supervise/banks/): each bank's size, the exchanges feeding it with their last
sync, its matches, its quarantined entries and how often review disagreed with it, in the same
number of queries whatever the number of banks."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from moderation.banks.models import BankEntry, HashBank, Match
from moderation.cases.models import Case
from moderation.decisions.models import Decision
from moderation.exchanges.models import Exchange, ExchangeFeedback, ExchangeSync
from moderation.supervision.bank_health import banks_health


def row(html: str, slug: str) -> str:
    start = html.index(f'data-bank="{slug}"')
    return html[start : html.index("</tr>", start)]


def add_bank(n: int, *, submit_report, png_upload, reviewer, allow_list=False) -> HashBank:
    """A bank of two live entries (one quarantined) and a removed one, fed by an exchange with two
    syncs, one entry matching two media (one decided no violation, one decided remove), and
    feedback on it."""
    bank = HashBank.objects.create(
        name=f"Bank {n}", slug=f"bank-{n}", signal_types=["md5"], is_allow_list=allow_list
    )
    now = timezone.now()
    entry, _, _ = BankEntry.objects.bulk_create(
        [
            BankEntry(bank=bank, signal_type="md5", value=f"{n:032x}"),
            BankEntry(
                bank=bank,
                signal_type="md5",
                value=f"{n + 1000:032x}",
                quarantined_at=now,
                quarantine_reason="flood",
            ),
            BankEntry(bank=bank, signal_type="md5", value=f"{n + 2000:032x}", removed_at=now),
        ]
    )
    exchange = Exchange.objects.create(
        name=f"Programme {n}",
        slug=f"prog-{n}",
        kind="https_feed",
        bank=bank,
        url="https://x.invalid/",
    )
    ExchangeSync.objects.create(
        exchange=exchange,
        status="failed",
        started_at=now - timedelta(days=1),
        finished_at=now - timedelta(days=1),
    )
    ExchangeSync.objects.create(
        exchange=exchange,
        status="succeeded",
        started_at=now - timedelta(hours=1),
        finished_at=now,
        added=7,
        removed=2,
    )
    for i, action in enumerate(("no_violation", "remove")):
        report = submit_report(images=[png_upload()])
        Match.objects.create(
            media=report.media.get(),
            entry=entry,
            signal_type="md5",
            distance=0,
            matched_at=now - timedelta(days=10 * i),
        )
        decision = Decision.objects.create(
            case=report.case, reviewer=reviewer, action=action, policy="harassment"
        )
        Case.objects.filter(pk=report.case_id).update(status="decided", decided_at=now)
        ExchangeFeedback.objects.create(
            exchange=exchange,
            entry=entry,
            decision=decision,
            verdict="disagree" if action == "no_violation" else "agree",
        )
    return bank


@pytest.mark.django_db
class TestBankHealth:
    def test_it_shows_each_bank_s_size_feed_matches_quarantine_and_disagreement(
        self, client, supervisor, reviewer, submit_report, png_upload
    ):
        add_bank(1, submit_report=submit_report, png_upload=png_upload, reviewer=reviewer)
        HashBank.objects.create(
            name="Memes", slug="memes", signal_types=["md5"], is_allow_list=True
        )
        client.force_login(supervisor)
        r = client.get("/supervise/banks/")
        assert r.status_code == 200
        html = r.content.decode()
        bank = row(html, "bank-1")
        assert 'data-testid="live">2<' in bank
        assert "Programme 1" in bank and "last sync <strong>succeeded</strong>" in bank
        assert "+7 · 0 updated · −2" in bank
        assert 'data-testid="matches">2<br><small class="muted">1 in 7 days' in bank
        assert ">1</a>" in bank  # one quarantined, linked to the list
        assert "50%" in bank and "1 of 2" in bank
        assert "50% disagree" in bank
        memes = row(html, "memes")
        assert 'data-testid="allow-list"' in memes and "imports and review only" in memes
        assert "no decisions" in memes

    def test_a_suppressed_match_and_a_referral_do_not_count_as_disagreement(
        self, supervisor, reviewer, submit_report, png_upload
    ):
        bank = add_bank(1, submit_report=submit_report, png_upload=png_upload, reviewer=reviewer)
        memes = HashBank.objects.create(name="Memes", slug="memes", signal_types=["md5"])
        allowed = BankEntry.objects.create(bank=memes, signal_type="md5", value="f" * 32)
        report = submit_report(images=[png_upload()])
        media = report.media.get()
        suppressor = Match.objects.create(media=media, entry=allowed, signal_type="md5", distance=0)
        Match.objects.create(
            media=media,
            entry=bank.entries.first(),
            signal_type="md5",
            distance=0,
            suppressed_by=suppressor,
        )
        Decision.objects.create(
            case=report.case, reviewer=reviewer, action="no_violation", policy="x"
        )
        other = submit_report(images=[png_upload()])
        Match.objects.create(
            media=other.media.get(), entry=bank.entries.first(), signal_type="md5", distance=0
        )
        Decision.objects.create(
            case=other.case,
            reviewer=reviewer,
            action="senior_review",
            policy="x",
            proposed_action="no_violation",
            referral_reason="guard",
        )
        health = {h.bank.slug: h for h in banks_health()}
        assert (health["bank-1"].review.disagreed, health["bank-1"].review.total) == (1, 2)

    def test_it_reads_as_many_queries_for_six_banks_as_for_two(
        self, client, supervisor, reviewer, submit_report, png_upload
    ):
        client.force_login(supervisor)
        client.get("/supervise/banks/")  # sessions, permissions and the like, once

        def queries(n_banks: int) -> int:
            for n in range(HashBank.objects.count(), n_banks):
                add_bank(n, submit_report=submit_report, png_upload=png_upload, reviewer=reviewer)
            with CaptureQueriesContext(connection) as captured:
                assert client.get("/supervise/banks/").status_code == 200
            return len(captured)

        assert queries(2) == queries(6)

    def test_the_supervisor_navigation_links_to_it(self, client, supervisor, reviewer):
        client.force_login(supervisor)
        assert 'href="/supervise/banks/"' in client.get("/supervise/queues/").content.decode()
        client.force_login(reviewer)
        assert 'href="/supervise/banks/"' not in client.get("/review/").content.decode()
