import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.banks.models import BankEntry, BankVersion, HashBank


@pytest.fixture
def admin_client(client, make_user):
    user = make_user("ada", Role.ADMIN)
    user.is_staff = True
    user.save()
    client.force_login(user)
    client.user = user
    return client


@pytest.mark.django_db
class TestBankAdmin:
    def test_an_admin_creates_a_bank_and_imports_hashes(self, admin_client):
        r = admin_client.post(
            "/admin/moderation/hashbank/add/",
            {
                "name": "Known",
                "slug": "known",
                "signal_types": '["pdq"]',
                "thresholds": '{"pdq": 20}',
                "policy": "raise_priority",
                "is_active": "on",
                "created_at_0": "2026-11-21",
                "created_at_1": "10:00:00",
                "description": "",
                "source": "test",
                "vpdq_quality": "50",
                "vpdq_query_percent": "0",
                "vpdq_compared_percent": "80",
                "flood_limit": "50",
                "flood_window_minutes": "60",
            },
        )
        assert r.status_code == 302, r.content
        bank = HashBank.objects.get(slug="known")
        assert AuditEvent.objects.filter(verb="hashbank.created").exists()
        version = BankVersion.current()
        upload = SimpleUploadedFile("list.txt", ("pdq " + "a" * 64 + "\n").encode())
        r = admin_client.post(
            f"/admin/moderation/hashbank/{bank.pk}/import/", {"file": upload}, follow=True
        )
        assert b"1 added, 0 already present" in r.content
        assert BankEntry.objects.count() == 1
        assert BankVersion.current() > version

    def test_a_bad_file_imports_nothing_and_lists_the_lines(self, admin_client):
        bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq"])
        upload = SimpleUploadedFile("list.txt", b"pdq " + b"a" * 64 + b"\npdq zzz\n")
        r = admin_client.post(f"/admin/moderation/hashbank/{bank.pk}/import/", {"file": upload})
        assert r.status_code == 200
        assert b"Nothing was imported." in r.content and b"line 2" in r.content
        assert BankEntry.objects.count() == 0

    def test_entries_are_removed_not_deleted(self, admin_client):
        from moderation.banks.services import bank_import

        bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq"])
        bank_import(bank=bank, text="pdq " + "a" * 64)
        entry = BankEntry.objects.get()
        admin_client.post(
            "/admin/moderation/bankentry/", {"action": "remove", "_selected_action": [entry.pk]}
        )
        entry.refresh_from_db()
        assert entry.removed_at is not None
        assert AuditEvent.objects.get(verb="bankentry.removed").actor == admin_client.user

    def test_a_supervisor_cannot_manage_banks(self, client, supervisor):
        bank = HashBank.objects.create(name="Known", slug="known", signal_types=["pdq"])
        client.force_login(supervisor)
        r = client.get(f"/admin/moderation/hashbank/{bank.pk}/import/")
        assert r.status_code == 302 and "/admin/login/" in r.url
