from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from moderation.audit.models import AuditEvent
from moderation.cases.models import Case, Queue
from moderation.cases.services import case_claim_next
from moderation.decisions.models import Decision
from moderation.review.services import case_decide
from reports.content import ContentFacts


@pytest.mark.django_db
class TestCaseDetail:
    def test_it_shows_the_case_with_its_reports_and_priority(self, client, reviewer, submit_report):
        report = submit_report(category="csam", involves_child=True, description="seen in a group")
        submit_report(category="csam", content_url=report.content_item.url)
        client.force_login(reviewer)
        r = client.get(f"/cases/{report.case_id}/")
        assert r.status_code == 200
        assert b"seen in a group" in r.content
        assert b"involves a child" in r.content
        assert b"+200" in r.content  # the readable priority breakdown
        assert b"Record decision" not in r.content  # not held: no decision form

    def test_it_renews_the_lease_of_the_holder(self, client, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        Case.objects.filter(pk=case.pk).update(
            lease_expires_at=timezone.now() + timedelta(seconds=5)
        )
        client.force_login(reviewer)
        r = client.get(f"/cases/{case.pk}/")
        assert b"Record decision" in r.content
        case.refresh_from_db()
        assert case.lease_expires_at > timezone.now() + timedelta(minutes=10)

    def test_it_403s_for_a_reviewer_not_certified_for_the_queue(
        self, client, make_user, submit_report
    ):
        case = submit_report(category="csam").case
        user = make_user("g", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        client.force_login(user)
        assert client.get(f"/cases/{case.pk}/").status_code == 403

    def test_it_404s_for_a_missing_case(self, client, reviewer):
        client.force_login(reviewer)
        assert client.get("/cases/999999/").status_code == 404

    def test_its_query_count_does_not_grow_with_reports(
        self, client, reviewer, submit_report, png_upload
    ):
        first = submit_report(images=[png_upload()])
        client.force_login(reviewer)
        # Warm: the navigation's inbox counts are read once, then kept briefly.
        client.get(f"/cases/{first.case_id}/")
        with CaptureQueriesContext(connection) as few:
            client.get(f"/cases/{first.case_id}/")
        for _ in range(10):
            submit_report(content_url=first.content_item.url, images=[png_upload()])
        with CaptureQueriesContext(connection) as many:
            client.get(f"/cases/{first.case_id}/")
        assert len(many) == len(few)


@pytest.mark.django_db
class TestDecideView:
    def test_it_records_the_decision_and_returns_to_the_dashboard(
        self, client, reviewer, submit_report
    ):
        submit_report(category="spam")
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{case.pk}/decide/", {"action": "remove", "policy": "spam"}, follow=True
        )
        assert r.redirect_chain[-1][0] == "/review/"
        assert b"Decision recorded" in r.content
        assert Decision.objects.get().reviewer == reviewer

    def test_it_shows_errors_for_missing_child_safety_fields(self, client, reviewer, submit_report):
        submit_report(category="csam")
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{case.pk}/decide/",
            {"action": "remove", "policy": "child-safety/sexual-exploitation"},
        )
        assert r.status_code == 400
        assert b"apparent intent" in r.content
        assert b"industry classification" in r.content
        assert Decision.objects.count() == 0

    def test_it_rejects_an_unknown_action(self, client, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{case.pk}/decide/", {"action": "delete_everything", "policy": "spam"}
        )
        assert r.status_code == 400
        assert Decision.objects.count() == 0

    def test_it_refuses_with_a_clear_message_when_the_lease_was_lost(
        self, client, make_user, submit_report
    ):
        a, b = make_user("a"), make_user("b")
        submit_report()
        case = case_claim_next(user=a)
        Case.objects.filter(pk=case.pk).update(assignee=b)
        client.force_login(a)
        r = client.post(
            f"/cases/{case.pk}/decide/", {"action": "remove", "policy": "harassment"}, follow=True
        )
        assert b"no longer yours" in r.content
        assert Decision.objects.count() == 0


@pytest.mark.django_db
class TestSkipView:
    def test_it_releases_the_case(self, client, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = client.post(f"/cases/{case.pk}/skip/", follow=True)
        assert b"went back to its queue" in r.content
        case.refresh_from_db()
        assert case.assignee is None


@pytest.mark.django_db
class TestCaseMedia:
    def test_it_serves_the_file_privately_and_logs_the_view(
        self, client, reviewer, submit_report, png_upload
    ):
        report = submit_report(images=[png_upload()])
        media = report.media.get()
        client.force_login(reviewer)
        r = client.get(f"/cases/{report.case_id}/media/{media.pk}/")
        assert r.status_code == 200
        assert r["Content-Type"] == "image/png"
        assert "no-store" in r["Cache-Control"]
        body = b"".join(r.streaming_content)
        assert body.startswith(b"\x89PNG")
        event = AuditEvent.objects.get(verb="media.viewed")
        assert event.actor == reviewer and event.object_id == str(media.pk)

    def test_it_404s_for_media_of_another_case(self, client, reviewer, submit_report, png_upload):
        other = submit_report(images=[png_upload()])
        case = submit_report().case
        client.force_login(reviewer)
        r = client.get(f"/cases/{case.pk}/media/{other.media.get().pk}/")
        assert r.status_code == 404
        assert not AuditEvent.objects.filter(verb="media.viewed").exists()


@pytest.mark.django_db
class TestLeaseView:
    def test_it_renews_the_holders_lease(self, client, reviewer, submit_report):
        submit_report()
        case = case_claim_next(user=reviewer)
        Case.objects.filter(pk=case.pk).update(
            lease_expires_at=timezone.now() + timedelta(seconds=5)
        )
        client.force_login(reviewer)
        r = client.post(f"/cases/{case.pk}/lease/")
        assert r.status_code == 200
        assert b"Yours until" in r.content
        case.refresh_from_db()
        assert case.lease_expires_at > timezone.now() + timedelta(minutes=10)

    def test_it_tells_the_holder_when_something_new_arrived(self, client, reviewer, submit_report):
        from moderation.review.services import case_version

        submit_report(platform_id="p1")
        case = case_claim_next(user=reviewer)
        seen = case_version(case)
        client.force_login(reviewer)
        r = client.post(f"/cases/{case.pk}/lease/", {"seen": seen})
        assert b"Yours until" in r.content and b"Something new arrived" not in r.content
        submit_report(platform_id="p1", description="more")
        r = client.post(f"/cases/{case.pk}/lease/", {"seen": seen})
        assert b"Yours until" in r.content and b"Something new arrived" in r.content

    def test_it_tells_a_reviewer_who_lost_the_case(self, client, make_user, submit_report):
        a, b = make_user("a"), make_user("b")
        submit_report()
        case = case_claim_next(user=a)
        Case.objects.filter(pk=case.pk).update(assignee=b)
        client.force_login(a)
        r = client.post(f"/cases/{case.pk}/lease/")
        assert b"You no longer hold this case: b has it" in r.content
        case.refresh_from_db()
        assert case.assignee == b

    def test_a_lapsed_certification_ends_the_hold_and_says_why(
        self, client, make_user, submit_report
    ):
        # Renewing the lease while the page stays open must not keep a case from everyone for
        # ever once its holder may no longer work the queue.
        ed, other = make_user("ed"), make_user("other")
        submit_report()
        case = case_claim_next(user=ed)
        ed.certifications.update(
            granted_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(minutes=1),
        )
        client.force_login(ed)
        r = client.post(f"/cases/{case.pk}/lease/")
        assert b"no longer certified to work the General queue" in r.content
        assert b"Yours until" not in r.content
        case.refresh_from_db()
        assert case.assignee is None and case.lease_expires_at is None
        event = AuditEvent.objects.filter(verb="case.released").latest("pk")
        assert event.after["reasons"] == ["reviewer no longer certified for the queue"]
        assert case_claim_next(user=other).pk == case.pk

    def test_opening_the_case_after_the_certification_lapsed_hands_it_back(
        self, client, make_user, submit_report
    ):
        ed = make_user("ed")
        submit_report()
        case = case_claim_next(user=ed)
        ed.certifications.update(
            granted_at=timezone.now() - timedelta(days=400),
            expires_at=timezone.now() - timedelta(minutes=1),
        )
        client.force_login(ed)
        r = client.get(f"/cases/{case.pk}/", follow=True)
        assert r.redirect_chain[-1][0] == "/review/"
        assert b"no longer certified to work the General queue" in r.content
        case.refresh_from_db()
        assert case.assignee is None


@pytest.mark.django_db
def test_media_missing_from_storage_is_a_404_and_not_logged_as_viewed(
    client, reviewer, submit_report, png_upload, private_media
):
    report = submit_report(images=[png_upload()])
    media = report.media.get()
    (private_media / media.file.name).unlink()
    client.force_login(reviewer)
    assert client.get(f"/cases/{report.case_id}/media/{media.pk}/").status_code == 404
    assert not AuditEvent.objects.filter(verb="media.viewed").exists()


@pytest.mark.django_db
class TestReporterPrivacy:
    def test_only_supervisors_see_who_reported(self, client, reviewer, supervisor, submit_report):
        report = submit_report(reporter_email="witness@example.org", reporter_ip="192.0.2.44")
        client.force_login(reviewer)
        page = client.get(f"/cases/{report.case_id}/").content
        assert b"witness@example.org" not in page and b"192.0.2.44" not in page
        client.force_login(supervisor)
        page = client.get(f"/cases/{report.case_id}/").content
        assert b"witness@example.org" in page and b"192.0.2.44" in page


@pytest.mark.django_db
def test_the_review_screen_makes_a_fixed_number_of_queries_however_much_context(
    client, reviewer, submit_report, run_jobs, django_assert_max_num_queries
):
    """Reports, flags, media, bank matches, cluster members with their decisions, the owner's
    history and earlier decisions all grow; the number of queries the page makes does not."""
    from moderation.banks.models import HashBank
    from moderation.banks.services import bank_import
    from reports.hashing import hash_bytes
    from reports.media import inspect_image
    from reports.services import flag_submit
    from tests.moderation.banks.test_clusters import picture

    def image(seed, mark=0):
        return inspect_image(picture(seed, mark), filename="x.png")

    bank = HashBank.objects.create(name="Watch", slug="watch", signal_types=["pdq", "md5"])
    bank_import(bank=bank, text="\n".join(f"md5 {hash_bytes(picture(s))['md5']}" for s in (1, 2)))

    def decide_next():
        held = case_claim_next(user=reviewer)
        case_decide(case_id=held.pk, user=reviewer, action="warn", policy="harassment")

    def history(n, owner, seed):
        # The owner's earlier content, decided; and near-copies elsewhere, decided too.
        with run_jobs():
            for i in range(n):
                submit_report(platform_id=f"{owner}-old{i}", owner_id=owner)
                decide_next()
                submit_report(platform_id=f"{owner}-copy{i}", images=[image(seed, i + 1)])
                decide_next()

    def build(n, owner, seed):
        with run_jobs():
            first = submit_report(platform_id=f"{owner}-now", owner_id=owner, images=[image(seed)])
            for i in range(n):
                submit_report(platform_id=f"{owner}-now", images=[image(seed, i + 1)])
                flag_submit(
                    source="classifier",
                    external_id=f"{owner}-{i}",
                    category="harassment",
                    score=0.5,
                    images=[image(seed, i + 1)],
                    content=ContentFacts(platform_id=f"{owner}-now"),
                )
        return first.case_id

    history(1, "acct-small", seed=1)
    history(6, "acct-large", seed=2)
    small, large = build(1, "acct-small", seed=1), build(6, "acct-large", seed=2)
    client.force_login(reviewer)
    # Warm: the navigation's inbox counts are read once, then kept briefly.
    client.get(f"/cases/{small}/")
    with CaptureQueriesContext(connection) as few:
        r = client.get(f"/cases/{small}/")
    assert r.context["cluster"][0] == 1 and r.context["owner_history"][0] == 1
    with django_assert_max_num_queries(len(few)):
        r = client.get(f"/cases/{large}/")
    assert r.context["owner_history"][0] == 6
    assert r.context["cluster"][0] == 6
    assert len(r.context["media"]) == 13
    assert r.context["case"].reports_count == 7 and r.context["case"].flags_count == 6
    assert any(m.matches.all() for m in r.context["media"])
    assert b"Watch" in r.content


@pytest.mark.django_db
def test_the_case_links_to_its_owner_s_account_page(client, reviewer, submit_report):
    case = submit_report(platform_id="post-9", owner_id="acct:42", owner_handle="@kim").case
    unknown = submit_report().case
    client.force_login(reviewer)
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'href="/platform-accounts/acct:42/"' in html and "@kim" in html
    assert 'data-testid="account-link"' not in client.get(f"/cases/{unknown.pk}/").content.decode()
