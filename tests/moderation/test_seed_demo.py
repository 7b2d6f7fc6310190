import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import User
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case, Queue
from moderation.decisions.models import Decision
from reports.models import ContentItem, Media, Report


def seed(*args):
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (User, Queue, ContentItem, Case, Report, Media, Decision, AuditEvent)
    }


@pytest.mark.django_db
class TestSeedDemo:
    def test_it_creates_a_few_hundred_cases_across_categories(self):
        output = seed("--password", "demo-pass-1")
        assert ContentItem.objects.filter(platform_id__startswith="demo-").count() == 300
        assert Case.objects.values("category").distinct().count() == 10
        assert Media.objects.count() > 50
        assert Decision.objects.count() > 0
        assert "Password for all of them: demo-pass-1" in output
        # Every priority input the demo can show: reach, and languages for routing rules.
        assert Case.objects.filter(priority_breakdown__icontains="views").exists()
        assert ContentItem.objects.filter(language="pt-BR").exists()
        # Running again adds nothing.
        before = counts()
        seed("--password", "demo-pass-1")
        assert counts() == before

    def test_it_creates_the_team_with_roles_and_certifications(self):
        seed("--cases", "5", "--password", "demo-pass-2")
        expected = [f"reviewer{i}" for i in range(1, 9)] + ["senior1", "supervisor1", "admin1"]
        assert sorted(User.objects.values_list("username", flat=True)) == sorted(expected)
        assert User.objects.get(username="reviewer1").role == "reviewer"
        assert User.objects.get(username="senior1").role == "senior reviewer"
        assert User.objects.get(username="supervisor1").role == "supervisor"
        assert User.objects.get(username="admin1").role == "admin"
        assert authenticate(username="reviewer3", password="demo-pass-2") is not None
        reviewer = User.objects.get(username="reviewer1")
        assert reviewer.certifications.filter(queue__slug="child-safety").exists()
        assert not reviewer.certifications.filter(queue__slug="senior-review").exists()

    def test_it_prints_a_generated_password_once(self):
        first = seed("--cases", "2")
        password = first.split("Password for all of them: ")[1].split()[0]
        assert authenticate(username="admin1", password=password) is not None
        second = seed("--cases", "2")
        assert "passwords unchanged" in second
        assert authenticate(username="admin1", password=password) is not None


@pytest.mark.django_db
def test_it_shows_an_appeal_and_a_disagreement():
    from moderation.decisions.models import Appeal, ReReview

    seed("--cases", "60", "--password", "demo-pass-3")
    appeal = Appeal.objects.get()
    assert appeal.case.queue.slug == "appeals" and appeal.case.status == "open"
    assert sorted(ReReview.objects.values_list("status", flat=True)) == ["agreed", "disagreed"]
    seed("--cases", "60", "--password", "demo-pass-3")
    assert Appeal.objects.count() == 1 and ReReview.objects.count() == 2


@pytest.mark.django_db
def test_it_shows_an_assembled_escalation_and_one_awaiting_approval(run_jobs):
    from moderation.escalations.models import Escalation
    from moderation.escalations.packet import packet_report_xml

    with run_jobs():
        seed("--cases", "5", "--password", "demo-pass-4")
    assembled = Escalation.objects.get(owner_id="user-4711")
    assert assembled.status == "ready" and assembled.files.count() == 2
    assert assembled.approved_by.username == "senior1"
    assert assembled.approval_requested_by.username == "reviewer1"
    assert b"user-4711" in packet_report_xml(assembled)
    waiting = Escalation.objects.get(owner_id="user-4712")
    assert waiting.status == "awaiting_approval" and waiting.incident_summary
    # Running again adds nothing.
    seed("--cases", "5", "--password", "demo-pass-4")
    assert Escalation.objects.filter(owner_id__in=["user-4711", "user-4712"]).count() == 2


@pytest.mark.django_db
def test_it_shows_videos_hashed_with_their_stills_a_bank_match_and_a_cluster(run_jobs):
    from moderation.banks.models import BankEntry, Match
    from reports.models import VideoHash, VideoStrip

    with run_jobs():
        seed("--cases", "5", "--password", "demo-pass-5")
    videos = Media.objects.filter(kind="video").select_related("content_item")
    assert videos.count() == 6
    assert {m.mime for m in videos} == {"video/mp4", "video/webm"}
    # Hashed as every demo file is: vPDQ of good frames, and the strip of stills made.
    assert not videos.filter(hashed_at__isnull=True).exists()
    assert not videos.exclude(unhashable_reason="").exists()
    hashes = VideoHash.objects.filter(media__in=videos)
    assert hashes.count() == 6 and all(h.frames for h in hashes)
    assert VideoStrip.objects.filter(media__in=videos, made_at__isnull=False).count() == 6
    # One clip is known: matched by vPDQ against the demo bank, with the segments that matched.
    match = Match.objects.select_related("media__content_item", "entry__bank").get(media__in=videos)
    assert match.signal_type == "vpdq" and match.entry.bank.slug == "demo-known-videos"
    assert match.media.content_item.platform_id == "video-demo-4"
    assert match.segments and match.compared_percent == 100.0
    case = Case.objects.get(content_item=match.media.content_item)
    assert case.bank_match_label == "known-material match: Demo known videos"
    # A clip, its re-upload and its re-encode share a cluster; the other clips are their own.
    by_post = {m.content_item.platform_id: m for m in videos}
    cluster = by_post["video-demo-1"].cluster_id
    assert cluster is not None
    assert by_post["video-demo-2"].sha256 == by_post["video-demo-1"].sha256
    assert by_post["video-demo-3"].sha256 != by_post["video-demo-1"].sha256
    clustered = videos.filter(cluster_id=cluster).values_list("content_item__platform_id")
    assert sorted(p for (p,) in clustered) == ["video-demo-1", "video-demo-2", "video-demo-3"]
    assert videos.filter(cluster__isnull=True).count() == 3
    # Spread over the queues, reported and flagged.
    posts = Case.objects.filter(content_item__platform_id__startswith="video-demo-")
    assert len(set(posts.values_list("queue", flat=True))) >= 4
    assert (
        posts.filter(flags__isnull=False).exists() and posts.filter(reports__isnull=False).exists()
    )
    # Running again adds nothing.
    before = {**counts(), "entries": BankEntry.objects.count(), "hashes": VideoHash.objects.count()}
    with run_jobs():
        seed("--cases", "5", "--password", "demo-pass-5")
    after = {**counts(), "entries": BankEntry.objects.count(), "hashes": VideoHash.objects.count()}
    assert after == before


@pytest.mark.django_db
def test_it_shows_conversations_and_the_account_case_they_add_up_to(run_jobs):
    from reports.models import Message, Participant

    with run_jobs():
        seed("--cases", "5", "--password", "demo-pass-6")
    conversations = ContentItem.objects.filter(type="conversation")
    assert {c.platform_id for c in conversations} == {"conv-demo-1", "conv-demo-2"}
    # A long thread to page through, with reported messages and an attachment, hashed.
    assert Message.objects.filter(conversation__platform_id="conv-demo-2").count() == 600
    assert Message.objects.filter(reported=True).count() == 8
    attachments = Media.objects.filter(message__isnull=False)
    assert attachments.count() == 2 and not attachments.filter(hashed_at__isnull=True).exists()
    assert set(Participant.objects.values_list("role", flat=True)) == {"adult", "minor"}
    # The adult wrote to two young people: an account case about the adult, for grooming.
    account = Case.objects.get(content_item__platform_id="acct-demo-adult-1")
    assert account.content_item.platform_id == "acct-demo-adult-1"
    assert account.category == "grooming" and account.involves_child
    # Seeding again adds nothing.
    before = Message.objects.count()
    with run_jobs():
        seed("--cases", "5", "--password", "demo-pass-6")
    assert Message.objects.count() == before
    assert Case.objects.filter(content_item__platform_id="acct-demo-adult-1").count() == 1
