"""The escalation page's submission part and the supervisor's submit / retract buttons."""

import pytest

from accounts.roles import Role
from moderation.escalations import submission
from moderation.escalations.models import Escalation
from tests.moderation.cybertip_fixtures import escalation_factory
from tests.moderation.escalations.test_cybertip_submission import fake_cybertip  # noqa: F401

S = Escalation.Status


@pytest.fixture
def make_escalation(db, make_user, submit_report, png_upload):
    return escalation_factory(make_user, submit_report, png_upload)


def page(client, escalation) -> str:
    r = client.get(f"/escalations/{escalation.pk}/")
    assert r.status_code == 200
    return r.content.decode()


@pytest.mark.django_db
class TestSubmissionPage:
    @pytest.mark.usefixtures("fake_cybertip")
    def test_a_supervisor_submits_and_sees_the_attempt_log(
        self, client, make_escalation, supervisor, run_jobs
    ):
        escalation = make_escalation()
        client.force_login(supervisor)
        assert 'data-testid="submit-cybertip"' in page(client, escalation)
        with run_jobs():
            r = client.post(f"/escalations/{escalation.pk}/submit/")
        assert r.status_code == 302 and r.url == f"/escalations/{escalation.pk}/"
        escalation.refresh_from_db()
        assert escalation.status == S.SUBMITTED
        html = page(client, escalation)
        assert 'data-testid="submission-attempts"' in html
        assert "Finish report" in html and "Upload file" in html
        assert 'data-testid="submit-cybertip"' not in html

    def test_without_credentials_it_says_submission_is_by_download(
        self, client, make_escalation, supervisor, settings
    ):
        settings.CYBERTIP_API_URL = ""
        escalation = make_escalation()
        client.force_login(supervisor)
        html = page(client, escalation)
        assert 'data-testid="submission-by-download"' in html
        assert 'data-testid="submit-cybertip"' not in html
        r = client.post(f"/escalations/{escalation.pk}/submit/", follow=True)
        assert "not configured" in r.content.decode()
        escalation.refresh_from_db()
        assert escalation.submission_started_at is None

    @pytest.mark.usefixtures("fake_cybertip")
    def test_a_senior_reviewer_sees_no_button_and_may_not_submit(
        self, client, make_escalation, make_user
    ):
        escalation = make_escalation()
        client.force_login(make_user("senna", Role.SENIOR_REVIEWER))
        assert 'data-testid="submit-cybertip"' not in page(client, escalation)
        assert client.post(f"/escalations/{escalation.pk}/submit/").status_code == 403
        escalation.refresh_from_db()
        assert escalation.submission_started_at is None

    def test_a_failed_submission_shows_why_and_offers_to_resume_and_retract(
        self,
        client,
        make_escalation,
        supervisor,
        fake_cybertip,  # noqa: F811
    ):
        fake_cybertip.script["fileinfo"] = ["invalid"]
        escalation = make_escalation()
        submission.escalation_submit(escalation_id=escalation.pk, user=supervisor)
        submission.submission_run(escalation_id=escalation.pk)
        client.force_login(supervisor)
        html = page(client, escalation)
        assert 'data-testid="submission-failed"' in html
        assert "Validation failed: scripted by the test" in html
        assert "Submit again" in html and 'data-testid="retract-cybertip"' in html
        r = client.post(f"/escalations/{escalation.pk}/retract/", follow=True)
        assert "retracted" in r.content.decode()
        escalation.refresh_from_db()
        assert escalation.status == S.READY and escalation.report_id is None


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_cybertip")
def test_a_stalled_submission_is_offered_to_resume_not_shown_as_running(
    client, make_escalation, supervisor
):
    from datetime import timedelta

    from django.utils import timezone

    escalation = make_escalation()
    submission.escalation_submit(escalation_id=escalation.pk, user=supervisor)
    client.force_login(supervisor)
    html = page(client, escalation)
    assert 'data-testid="submission-running"' in html
    assert 'data-testid="submit-cybertip"' not in html
    # Its job was lost two hours ago.
    Escalation.objects.filter(pk=escalation.pk).update(
        submission_started_at=timezone.now() - timedelta(hours=2)
    )
    html = page(client, escalation)
    assert 'data-testid="submission-running"' not in html
    assert 'data-testid="submit-cybertip"' in html and "Submit again" in html
