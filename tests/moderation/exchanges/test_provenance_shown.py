"""An exchange's entry says where it came from wherever its match or the entry is shown: the
account page and search (the case page and the lookup API: tests/moderation/banks)."""

import pytest

from moderation.banks.models import BankEntry, HashBank, Match
from moderation.exchanges.models import Exchange


@pytest.fixture
def matched(db, submit_report, png_upload):
    bank = HashBank.objects.create(name="NCMEC list", slug="ncmec", signal_types=["md5"])
    exchange = Exchange.objects.create(
        name="NCMEC hash sharing", slug="ncmec", kind="ncmec", bank=bank, url="https://x.invalid/"
    )
    entry = BankEntry.objects.create(
        bank=bank,
        signal_type="md5",
        value="ab" * 16,
        exchange=exchange,
        source_id="m42-1001",
        labels=["classification:A1"],
    )
    report = submit_report(owner_id="acct-9", images=[png_upload()])
    Match.objects.create(media=report.media.get(), entry=entry, signal_type="md5", distance=0)
    return entry


@pytest.mark.django_db
def test_the_account_page_names_the_programme(client, supervisor, matched):
    client.force_login(supervisor)
    html = client.get("/platform-accounts/acct-9/").content.decode()
    assert "from NCMEC hash sharing (m42-1001)" in html and "classification:A1" in html


@pytest.mark.django_db
def test_search_names_the_programme_of_a_bank_entry(client, supervisor, matched):
    client.force_login(supervisor)
    html = client.get("/search/", {"q": "ab" * 16}).content.decode()
    assert "from NCMEC hash sharing (m42-1001)" in html
