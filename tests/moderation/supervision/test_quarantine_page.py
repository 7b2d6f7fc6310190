"""Quarantined bank entries (/supervise/banks/quarantined/): supervisors are told in the inbox,
see each entry with its provenance and what it matched, and release it (with a reason) or
remove it, both audited."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from moderation.audit.models import AuditEvent
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.exchanges.models import Exchange
from moderation.supervision.inbox import inbox


@pytest.fixture
def bank(db):
    return HashBank.objects.create(name="Known", slug="known", signal_types=["md5"])


def quarantine(bank, n=1, **fields) -> BankEntry:
    return BankEntry.objects.create(
        bank=bank,
        signal_type="md5",
        value=f"{n:032x}",
        quarantined_at=timezone.now(),
        quarantine_reason="matched more than 50 distinct media within 60 minutes",
        **fields,
    )


@pytest.mark.django_db
class TestQuarantinePage:
    def test_supervisors_are_told_in_the_inbox(self, bank, supervisor, reviewer):
        quarantine(bank)
        BankEntry.objects.create(bank=bank, signal_type="md5", value="f" * 32)
        items = {i.key: i for i in inbox(supervisor).items}
        assert items["quarantined"].count == 1
        assert items["quarantined"].label == "Quarantined bank entries"
        assert items["quarantined"].url == "/supervise/banks/quarantined/"
        assert "quarantined" not in {i.key for i in inbox(reviewer).items}

    def test_it_lists_each_entry_with_its_provenance_and_matches(
        self, client, bank, supervisor, submit_report, png_upload
    ):
        exchange = Exchange.objects.create(
            name="NCMEC", slug="ncmec", kind="ncmec", bank=bank, url="https://x.invalid/"
        )
        entry = quarantine(bank, exchange=exchange, source_id="ncmec-42", labels=["A1"])
        Match.objects.create(
            media=submit_report(images=[png_upload()]).media.get(),
            entry=entry,
            signal_type="md5",
            distance=0,
        )
        client.force_login(supervisor)
        html = client.get("/supervise/banks/quarantined/").content.decode()
        listed = html[html.index(f'data-entry="{entry.pk}"') :]
        assert "NCMEC" in listed and "ncmec-42" in listed and "A1" in listed
        assert "matched more than 50 distinct media" in listed
        assert "1<br><small" in listed and "held back" in listed

    def test_a_release_needs_a_reason_and_is_audited(self, client, bank, supervisor):
        entry = quarantine(bank)
        client.force_login(supervisor)
        r = client.post(f"/supervise/banks/quarantined/{entry.pk}/release/", {"reason": " "})
        assert r.status_code == 302
        entry.refresh_from_db()
        assert entry.quarantined_at is not None
        r = client.post(
            f"/supervise/banks/quarantined/{entry.pk}/release/", {"reason": "a real surge"}
        )
        assert r.url == "/supervise/banks/quarantined/"
        entry.refresh_from_db()
        assert entry.quarantined_at is None
        event = AuditEvent.objects.get(verb="bankentry.released")
        assert event.actor == supervisor and event.after == {"reason": "a real surge"}
        page = client.get(r.url).content.decode()
        assert "acts on new matches again" in page and "No entry is quarantined" in page
        # Again: refused with a message, not an error page.
        r = client.post(f"/supervise/banks/quarantined/{entry.pk}/release/", {"reason": "again"})
        assert "not quarantined" in client.get(r.url).content.decode()

    def test_a_removal_withdraws_its_matches_and_is_audited(
        self, client, bank, supervisor, submit_report, png_upload
    ):
        entry = quarantine(bank)
        match = Match.objects.create(
            media=submit_report(images=[png_upload()]).media.get(),
            entry=entry,
            signal_type="md5",
            distance=0,
        )
        client.force_login(supervisor)
        r = client.post(f"/supervise/banks/quarantined/{entry.pk}/remove/", {"reason": "noise"})
        assert r.status_code == 302
        entry.refresh_from_db()
        match.refresh_from_db()
        assert entry.removed_at is not None and match.withdrawn_at is not None
        event = AuditEvent.objects.get(verb="bankentry.removed")
        assert event.actor == supervisor and event.after == {"reason": "noise"}
        assert event.before["quarantined_at"]
        assert "Removed" in client.get(r.url).content.decode()

    def test_an_entry_released_meanwhile_is_not_removed_from_here(self, client, bank, supervisor):
        entry = BankEntry.objects.create(bank=bank, signal_type="md5", value="e" * 32)
        client.force_login(supervisor)
        r = client.post(f"/supervise/banks/quarantined/{entry.pk}/remove/", {})
        entry.refresh_from_db()
        assert entry.removed_at is None
        assert "no longer quarantined" in client.get(r.url).content.decode()
        assert client.post("/supervise/banks/quarantined/999999/remove/").status_code == 404

    def test_it_reads_as_many_queries_for_five_entries_as_for_two(self, client, bank, supervisor):
        client.force_login(supervisor)
        client.get("/supervise/banks/quarantined/")

        def queries(n: int) -> int:
            for i in range(BankEntry.objects.count(), n):
                exchange = Exchange.objects.create(
                    name=f"P{i}",
                    slug=f"p{i}",
                    kind="https_feed",
                    bank=bank,
                    url="https://x.invalid/",
                )
                quarantine(bank, i, exchange=exchange, source_id=str(i))
            with CaptureQueriesContext(connection) as captured:
                client.get("/supervise/banks/quarantined/")
            return len(captured)

        assert queries(2) == queries(5)
