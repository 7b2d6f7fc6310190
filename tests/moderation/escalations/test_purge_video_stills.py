"""The purge of expired evidence takes a video's stills with it: they are its pictures."""

import pytest
from django.core.files.storage import default_storage

from moderation.escalations import custody
from moderation.escalations.models import Escalation
from reports.models import VideoStrip
from tests.moderation.custody_helpers import make_escalation
from tests.moderation.review.video_helpers import video_case


@pytest.mark.django_db
def test_a_purged_video_s_stills_go_with_it(make_user, submit_report):
    case, media = video_case(submit_report)
    strip = VideoStrip.objects.get(media=media)
    assert default_storage.exists(strip.file.name)
    escalation = make_escalation(
        make_user, [case.reports.get()], status=Escalation.Status.ACKNOWLEDGED
    )
    (result,) = custody.evidence_purge_expired(now=escalation.preserve_until.replace(year=2100))
    assert [f["media"] for f in result.deleted] == [media.pk]
    assert not default_storage.exists(media.file.name)
    assert not default_storage.exists(strip.file.name)
    strip.refresh_from_db()
    assert not strip.ready and strip.stopped == "deleted with the evidence"


@pytest.mark.django_db
def test_a_dry_run_keeps_them(make_user, submit_report):
    case, media = video_case(submit_report)
    strip = VideoStrip.objects.get(media=media)
    escalation = make_escalation(
        make_user, [case.reports.get()], status=Escalation.Status.ACKNOWLEDGED
    )
    custody.evidence_purge_expired(now=escalation.preserve_until.replace(year=2100), dry_run=True)
    assert default_storage.exists(strip.file.name)
    assert VideoStrip.objects.get(media=media).ready
