"""The case page with videos on it (case_detail): what a video is, its stills and player behind
reveals (nothing of a video or its stills is sent before), where it matched, and a decision that
needs no playing; a fixed number of queries however many videos."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from moderation.audit.models import AuditEvent
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision
from reports.media import inspect_media
from tests.moderation.review.video_helpers import matched, small_video, video_case


def page(client, case) -> str:
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
class TestAVideoOnTheCasePage:
    def test_nothing_of_it_is_sent_before_it_is_revealed(self, client, reviewer, submit_report):
        case, media = video_case(submit_report)
        client.force_login(reviewer)
        html = page(client, case)
        assert "<video" not in html and "<img" not in html and "data-src" not in html
        # No URL of the file or its stills at all: only the reveal, which is a POST.
        urls = set(re.findall(rf"/cases/{case.pk}/media/{media.pk}/[\w/]*", html))
        assert urls == {f"/cases/{case.pk}/media/{media.pk}/reveal/"}
        assert "Show frames" in html and "Play video" in html
        assert not AuditEvent.objects.filter(verb="media.viewed").exists()

    def test_it_says_what_the_video_is(self, client, reviewer, submit_report):
        case, _ = video_case(submit_report)
        client.force_login(reviewer)
        facts = page(client, case)
        for shown in ("MP4 · h264", "0:03", "64×48", "10.00 frames a second", "vPDQ"):
            assert shown in facts

    def test_a_video_whose_stills_are_not_made_polls_for_them(
        self, client, reviewer, submit_report
    ):
        case, media = video_case(submit_report, hashed=False, strip=False)
        client.force_login(reviewer)
        html = page(client, case)
        assert "Preparing frames" in html and "Show frames" not in html
        assert f'hx-post="/cases/{case.pk}/media/{media.pk}/frames/status/"' in html

    def test_matched_segments_are_marked_and_listed_in_words(self, client, reviewer, submit_report):
        case, media = video_case(submit_report)
        match = matched(media, [{"start": 1.0, "end": 2.0, "entry_start": 61.0, "entry_end": 62.0}])
        client.force_login(reviewer)
        html = page(client, case)
        assert 'data-testid="timeline"' in html and 'class="segment"' in html
        assert re.search(r"left: 3\d\.\d+%; width: 3\d\.\d+%", html)
        assert f"0:01–0:02: Known videos, entry {match.entry_id} at 1:01–1:02 (vPDQ" in html
        assert "50% of this video's frames, 90% of the entry's" in html

    def test_a_decision_needs_no_playing(self, client, reviewer, submit_report):
        video_case(submit_report)
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        assert "Record decision" in page(client, case)
        r = client.post(f"/cases/{case.pk}/decide/", {"action": "remove", "policy": "harassment"})
        assert r.status_code == 302
        assert Decision.objects.get(case=case).action == "remove"
        assert not AuditEvent.objects.filter(verb="media.viewed").exists()

    def test_preserved_evidence_offers_no_reveal(self, client, reviewer, make_user, submit_report):
        from moderation.escalations.models import Escalation
        from reports.models import Report
        from tests.moderation.custody_helpers import make_escalation

        case, _ = video_case(submit_report)
        make_escalation(
            make_user, [Report.objects.get(case=case)], status=Escalation.Status.SUBMITTED
        )
        client.force_login(reviewer)
        html = page(client, case)
        assert "Show frames" not in html and "Play video" not in html
        assert "/reveal/" not in html


@pytest.mark.django_db
def test_the_page_makes_a_fixed_number_of_queries_however_many_videos(
    client, reviewer, submit_report
):
    def build(n, url):
        case, media = video_case(submit_report, content_url=url)
        matched(media, [{"start": 0.0, "end": 1.0}], bank=f"Bank {url[-1]}")
        for i in range(n - 1):
            report = submit_report(
                content_url=url,
                images=[inspect_media(small_video(), filename=f"{i}.mp4")],
            )
            if i % 2:
                from moderation.banks.strips import media_make_strip

                media_make_strip(media_id=report.media.get().pk)
        return case

    one, many = build(1, "https://x.example/a"), build(5, "https://x.example/b")
    client.force_login(reviewer)
    # Warm: the navigation's inbox counts are read once, then kept briefly.
    page(client, one)
    with CaptureQueriesContext(connection) as few:
        page(client, one)
    with CaptureQueriesContext(connection) as more:
        html = page(client, many)
    assert html.count('data-testid="video-facts"') == 5
    assert len(more) == len(few)
