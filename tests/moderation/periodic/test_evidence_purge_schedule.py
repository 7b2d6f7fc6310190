"""The daily purge rides on the periodic chain: one job per day, scheduled by every run."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.storage import default_storage

from moderation.escalations.models import Escalation
from moderation.periodic import services as periodic
from tests.moderation.custody_helpers import make_escalation
from tests.moderation.periodic.test_periodic_refresh import rq_redis, scheduled_ids  # noqa: F401


def slot_time(job_id: str) -> datetime:
    day = int(job_id.removeprefix(periodic.PURGE_JOB_PREFIX))
    return datetime.fromtimestamp(day * periodic.DAY_SECONDS + periodic.PURGE_HOUR_UTC * 3600, UTC)


@pytest.mark.django_db
class TestPurgeSchedule:
    def test_it_schedules_one_purge_a_day_at_the_quiet_hour(self, rq_redis):  # noqa: F811
        now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        first = periodic.evidence_purge_schedule(now=now)
        for hours in (0, 1, 5, 16):
            assert periodic.evidence_purge_schedule(now=now + timedelta(hours=hours)) == first
        assert slot_time(first) == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
        assert [i for i in scheduled_ids() if i.startswith(periodic.PURGE_JOB_PREFIX)] == [first]
        # Just before the hour it is today's run that is next.
        early = datetime(2026, 11, 22, 2, 59, tzinfo=UTC)
        assert slot_time(periodic.evidence_purge_schedule(now=early)) == datetime(
            2026, 11, 22, 3, 0, tzinfo=UTC
        )

    def test_each_periodic_run_keeps_it_scheduled(self, rq_redis):  # noqa: F811
        periodic.waiting_refresh_run()
        assert any(i.startswith(periodic.PURGE_JOB_PREFIX) for i in scheduled_ids())

    def test_the_job_purges_expired_evidence(self, make_user, submit_report, png_upload):
        from moderation.escalations.jobs import purge_expired_evidence

        report = submit_report(category="harassment", images=[png_upload()])
        escalation = make_escalation(make_user, [report], status=Escalation.Status.SUBMITTED)
        Escalation.objects.filter(pk=escalation.pk).update(
            preserve_until=datetime.now(UTC) - timedelta(days=1)
        )
        purge_expired_evidence()
        escalation.refresh_from_db()
        assert escalation.evidence_deleted_at is not None
        assert not default_storage.exists(escalation.packet.name)

    def test_there_is_no_scheduler_in_the_embedded_mode(self, settings):
        settings.JOBS_EAGER = True
        assert periodic.evidence_purge_schedule() is None
