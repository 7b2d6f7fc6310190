"""The case page's bank matches explain themselves: the bank, the programme the entry came from
with its own id, its labels, when the programme first and last listed it, and whether the match
counts (suppressed by an allow-list, withdrawn, its entry quarantined), in the same number of
queries however many matches."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from moderation.banks.models import BankEntry, HashBank, Match
from moderation.exchanges.models import Exchange
from reports.models import Media


def exchange_entry(n: int, **fields) -> BankEntry:
    bank = HashBank.objects.create(name=f"NCMEC list {n}", slug=f"ncmec-{n}", signal_types=["md5"])
    exchange = Exchange.objects.create(
        name=f"NCMEC hash sharing {n}",
        slug=f"ncmec-{n}",
        kind="ncmec",
        bank=bank,
        url="https://x.invalid/",
    )
    now = timezone.now()
    return BankEntry.objects.create(
        bank=bank,
        signal_type="md5",
        value=f"{n:032x}",
        exchange=exchange,
        source_id=f"ncmec-{n}-src",
        labels=["A1", "industry"],
        first_seen_at=now - timedelta(days=30),
        last_seen_at=now,
        **fields,
    )


def matched(media, entry, **fields) -> Match:
    # The page lists a file's matches once it is hashed.
    Media.objects.filter(pk=media.pk, hashed_at__isnull=True).update(hashed_at=timezone.now())
    return Match.objects.create(media=media, entry=entry, signal_type="md5", distance=0, **fields)


def item(html: str, match: Match) -> str:
    start = html.index(f'data-match="{match.pk}"')
    return html[start : html.index("</li>", start)]


@pytest.mark.django_db
class TestMatchProvenance:
    def test_each_match_names_its_bank_programme_source_id_labels_and_dates(
        self, client, reviewer, submit_report, png_upload
    ):
        report = submit_report(images=[png_upload()])
        entry = exchange_entry(1)
        match = matched(report.media.get(), entry)
        client.force_login(reviewer)
        shown = item(client.get(f"/cases/{report.case_id}/").content.decode(), match)
        assert "NCMEC list 1" in shown and "NCMEC hash sharing 1" in shown
        assert "ncmec-1-src" in shown and "A1, industry" in shown
        assert f"first seen at source {entry.first_seen_at:%Y-%m-%d %H:%M}" in shown
        assert f"last seen {entry.last_seen_at:%Y-%m-%d %H:%M}" in shown
        assert 'data-testid="governance"' not in shown

    def test_it_says_when_a_match_does_not_count_and_why(
        self, client, reviewer, submit_report, png_upload
    ):
        report = submit_report(images=[png_upload()])
        media = report.media.get()
        memes = HashBank.objects.create(
            name="Memes", slug="memes", signal_types=["md5"], is_allow_list=True
        )
        allowing = matched(
            media, BankEntry.objects.create(bank=memes, signal_type="md5", value="f" * 32)
        )
        suppressed = matched(media, exchange_entry(1), suppressed_by=allowing)
        withdrawn = matched(media, exchange_entry(2), withdrawn_at=timezone.now())
        held = matched(media, exchange_entry(3, quarantined_at=timezone.now()))
        client.force_login(reviewer)
        html = client.get(f"/cases/{report.case_id}/").content.decode()
        assert "suppressed by Memes: known false positive" in item(html, suppressed)
        assert "allow-list: known false positive" in item(html, allowing)
        assert "no longer counts" in item(html, withdrawn)
        assert "quarantined by the flood guard" in item(html, held)

    def test_it_reads_as_many_queries_for_four_matches_as_for_one(
        self, client, reviewer, submit_report, png_upload
    ):
        report = submit_report(images=[png_upload()])
        media = report.media.get()
        client.force_login(reviewer)
        url = f"/cases/{report.case_id}/"

        def queries(n: int) -> int:
            for i in range(media.matches.count() // 2, n):
                memes = HashBank.objects.create(
                    name=f"Memes {i}", slug=f"memes-{i}", signal_types=["md5"], is_allow_list=True
                )
                allowing = matched(
                    media,
                    BankEntry.objects.create(bank=memes, signal_type="md5", value=f"{i:032x}"),
                )
                matched(media, exchange_entry(i), suppressed_by=allowing)
            client.get(url)
            with CaptureQueriesContext(connection) as captured:
                r = client.get(url)
            assert r.content.decode().count("known false positive") == 2 * n
            return len(captured)

        assert queries(1) == queries(4)
