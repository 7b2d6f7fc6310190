"""Evidence preserved for a submitted report: only roles with access_preserved_evidence may look
at it; every look is logged (media.viewed), every refusal too (media.view_refused)."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.escalations.models import Escalation
from tests.moderation.custody_helpers import make_escalation


@pytest.fixture
def report(submit_report, png_upload):
    return submit_report(category="harassment", images=[png_upload()])


def media_url(report):
    return f"/cases/{report.case_id}/media/{report.media.get().pk}/"


@pytest.mark.django_db
class TestPreservedMedia:
    def test_it_refuses_a_reviewer_and_logs_the_refusal(self, client, reviewer, make_user, report):
        make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)
        client.force_login(reviewer)
        response = client.get(media_url(report), REMOTE_ADDR="198.51.100.4")
        assert response.status_code == 403
        assert not AuditEvent.objects.filter(verb="media.viewed").exists()
        refused = AuditEvent.objects.get(verb="media.view_refused")
        assert refused.actor == reviewer and refused.ip == "198.51.100.4"
        assert refused.case_id == report.case_id

    def test_it_lets_a_supervisor_look_and_logs_it(self, client, supervisor, make_user, report):
        make_escalation(make_user, [report], status=Escalation.Status.ACKNOWLEDGED)
        client.force_login(supervisor)
        response = client.get(media_url(report), REMOTE_ADDR="198.51.100.5")
        assert response.status_code == 200
        b"".join(response.streaming_content)
        viewed = AuditEvent.objects.get(verb="media.viewed")
        assert viewed.actor == supervisor and viewed.ip == "198.51.100.5"

    def test_the_permission_is_what_counts_not_the_role(self, client, make_user, report):
        make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)
        senior = make_user("sen", Role.SENIOR_REVIEWER)
        client.force_login(senior)
        assert client.get(media_url(report)).status_code == 403
        from django.contrib.auth.models import Permission

        senior.user_permissions.add(Permission.objects.get(codename="access_preserved_evidence"))
        client.force_login(senior)
        assert client.get(media_url(report)).status_code == 200

    def test_supervisors_and_admins_hold_the_permission(self):
        for role in (Role.SUPERVISOR, Role.ADMIN):
            group = Group.objects.get(name=role.value)
            assert group.permissions.filter(codename="access_preserved_evidence").exists()
        for role in (Role.REVIEWER, Role.SENIOR_REVIEWER, Role.PLATFORM):
            group = Group.objects.get(name=role.value)
            assert not group.permissions.filter(codename="access_preserved_evidence").exists()

    @pytest.mark.parametrize("status", ["ready", "withdrawn"])
    def test_evidence_not_submitted_is_not_restricted(
        self, client, reviewer, make_user, report, status
    ):
        make_escalation(make_user, [report], status=status)
        client.force_login(reviewer)
        assert client.get(media_url(report)).status_code == 200
        assert AuditEvent.objects.filter(verb="media.viewed", actor=reviewer).exists()

    def test_the_case_page_tells_a_reviewer_instead_of_offering_a_reveal(
        self, client, reviewer, supervisor, make_user, report
    ):
        make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)
        client.force_login(reviewer)
        html = client.get(f"/cases/{report.case_id}/").content.decode()
        assert 'data-testid="preserved-evidence"' in html
        assert "media-frame" not in html
        client.force_login(supervisor)
        html = client.get(f"/cases/{report.case_id}/").content.decode()
        assert 'data-testid="preserved-evidence"' not in html
        assert "media-frame" in html
