import pytest

from moderation.audit.models import AuditEvent
from moderation.decisions.models import QualitySettings


@pytest.mark.django_db
class TestQualitySettingsAdmin:
    def test_an_admin_sets_the_share_and_the_change_is_audited(self, client, admin_user):
        settings_row = QualitySettings.objects.get()
        assert float(settings_row.rereview_share) == 0.05  # the migration's default
        client.force_login(admin_user)
        url = f"/admin/moderation/qualitysettings/{settings_row.pk}/change/"
        assert client.get(url).status_code == 200
        response = client.post(url, {"rereview_share": "0.1"})
        assert response.status_code == 302
        assert float(QualitySettings.current().rereview_share) == 0.1
        event = AuditEvent.objects.get(verb="qualitysettings.changed")
        assert event.actor == admin_user and event.after == {"rereview_share": "0.1"}

    def test_it_refuses_a_share_outside_zero_to_one(self, client, admin_user):
        client.force_login(admin_user)
        row = QualitySettings.objects.get()
        response = client.post(
            f"/admin/moderation/qualitysettings/{row.pk}/change/", {"rereview_share": "1.5"}
        )
        assert response.status_code == 200 and b"errorlist" in response.content
        assert float(QualitySettings.current().rereview_share) == 0.05

    def test_there_is_only_ever_one_row(self, client, admin_user):
        client.force_login(admin_user)
        assert client.get("/admin/moderation/qualitysettings/add/").status_code == 403
