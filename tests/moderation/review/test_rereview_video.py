"""A blind re-review of a case with a video (rereview_detail): the same video card as the case
page, nothing of the video sent before a reveal, and the reveals work for the re-reviewer."""

import re

import pytest

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next
from moderation.decisions.models import QualitySettings
from moderation.review.rereview import rereview_claim_next
from moderation.review.services import case_decide
from tests.moderation.review.video_helpers import reveal, video_case


@pytest.mark.django_db
def test_a_re_reviewer_sees_the_video_card_and_reveals_it(
    client, settings, make_user, submit_report
):
    settings.REREVIEW_SAMPLING = True
    QualitySettings.objects.update(rereview_share=1)
    original, second = make_user("orig", Role.REVIEWER), make_user("second", Role.REVIEWER)
    _, media = video_case(submit_report)
    case = case_claim_next(user=original)
    # Sampled for blind re-review as it is recorded (a share of 1: always).
    case_decide(case_id=case.pk, user=original, action="remove", policy="harassment")
    task = rereview_claim_next(user=second)
    client.force_login(second)
    html = client.get(f"/rereview/{task.pk}/").content.decode()
    assert "<video" not in html and "<img" not in html and "data-src" not in html
    assert set(re.findall(rf"/cases/{case.pk}/media/{media.pk}/[\w/]*", html)) == {
        f"/cases/{case.pk}/media/{media.pk}/reveal/"
    }
    assert "Show frames" in html and "Play video" in html
    assert reveal(client, case, media, "frames")[0].status_code == 200
    assert AuditEvent.objects.get(verb="media.viewed").actor == second
