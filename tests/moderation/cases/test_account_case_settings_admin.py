import pytest

from moderation.audit.models import AuditEvent
from moderation.cases.models import AccountCaseSettings


def change_url():
    return f"/admin/moderation/accountcasesettings/{AccountCaseSettings.objects.get().pk}/change/"


@pytest.mark.django_db
class TestAccountCaseSettingsAdmin:
    def test_an_admin_sets_the_thresholds_and_the_change_is_audited(self, client, admin_user):
        rules = AccountCaseSettings.objects.get()  # the migration's row, with the defaults
        assert (rules.enabled, rules.min_reported_items, rules.min_minor_contacts) == (True, 3, 2)
        client.force_login(admin_user)
        assert client.get(change_url()).status_code == 200
        response = client.post(
            change_url(), {"enabled": "on", "min_reported_items": "4", "min_minor_contacts": "1"}
        )
        assert response.status_code == 302
        rules = AccountCaseSettings.current()
        assert (rules.min_reported_items, rules.min_minor_contacts) == (4, 1)
        event = AuditEvent.objects.get(verb="accountcasesettings.changed")
        assert event.actor == admin_user
        # One row only.
        assert client.get("/admin/moderation/accountcasesettings/add/").status_code == 403

    def test_it_refuses_a_threshold_of_one_reported_item(self, client, admin_user):
        client.force_login(admin_user)
        response = client.post(
            change_url(), {"enabled": "on", "min_reported_items": "1", "min_minor_contacts": "1"}
        )
        assert response.status_code == 200 and b"errorlist" in response.content
        assert AccountCaseSettings.current().min_reported_items == 3

    def test_a_supervisor_cannot_change_them(self, client, supervisor):
        supervisor.is_staff = True
        supervisor.save()
        client.force_login(supervisor)
        assert client.get(change_url()).status_code == 403
