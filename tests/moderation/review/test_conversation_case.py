"""A conversation case's page: the thread in the order it was sent, participants with their
roles, reported messages marked in words, the reporter marked as a participant and nothing more,
attachments blurred behind the audited media views, and paging (plain links and htmx) that reads
the same queries for 3 messages as for 10,000 and never loads more than a page."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from lxml import html as lxml_html

from moderation.audit.models import AuditEvent
from moderation.banks.models import BankEntry, HashBank, Match
from moderation.cases.models import Case
from moderation.cases.services import case_claim_next
from moderation.review.conversations import PER_PAGE
from reports.models import Media, Message
from tests.moderation.review.conversation_helpers import SENT, conversation_case

HX = {"HTTP_HX_REQUEST": "true"}


def tree(response):
    return lxml_html.fromstring(response.content.decode())


def thread_ids(doc) -> list[str]:
    return doc.xpath("//ol[@class='thread-messages']/li/@data-message")


def participant(doc, account_id: str) -> str:
    (li,) = doc.xpath(f"//li[@data-participant='{account_id}']")
    return " ".join(li.text_content().split())


def hold(case, user):
    Case.objects.filter(pk=case.pk).update(
        assignee=user, lease_expires_at=timezone.now() + timedelta(minutes=15)
    )


@pytest.mark.django_db
class TestThread:
    def test_it_lists_messages_in_the_order_they_were_sent_not_stored(self, client, reviewer):
        conv = conversation_case(size=5)
        # Sent at the same second as m-1 but stored later: after it (sent_at, then id).
        Message.objects.create(
            conversation=conv.item,
            platform_id="m-1b",
            sender=conv.minor,
            sent_at=SENT + timedelta(seconds=1),
            text="same second",
            report=conv.report,
        )
        client.force_login(reviewer)
        doc = tree(client.get(f"/cases/{conv.case.pk}/"))
        assert thread_ids(doc) == ["m-0", "m-1", "m-1b", "m-2", "m-3", "m-4"]
        (first,) = doc.xpath("//li[@data-message='m-0']")
        head = " ".join(first.xpath(".//div[@class='message-head']")[0].text_content().split())
        assert head == "grown.up Adult, 34 2026-03-01 20:00:00 id m-0"
        assert first.xpath(".//time/@datetime") == ["2026-03-01T20:00:00+00:00"]

    def test_it_shows_each_participants_role_age_and_marks(self, client, reviewer):
        conv = conversation_case(size=7)
        client.force_login(reviewer)
        doc = tree(client.get(f"/cases/{conv.case.pk}/"))
        assert participant(doc, "acct-adult") == (
            "grown.up (Grown Up) Adult, 34 (estimated) Reported account account acct-adult"
        )
        assert participant(doc, "acct-minor") == (
            "kiddo Minor, 13 (stated) Made a report account acct-minor"
        )
        assert participant(doc, "acct-stranger") == (
            "acct-stranger Age unknown Not listed by the platform account acct-stranger"
        )
        # Each message names its sender's role too: the 7th is from the unlisted account.
        (last,) = doc.xpath("//li[@data-message='m-6']")
        assert "acct-stranger Age unknown" in " ".join(last.text_content().split())

    def test_it_never_shows_who_reported_beyond_the_participant_mark(
        self, client, reviewer, supervisor
    ):
        conv = conversation_case(
            reporter_account_id="acct-minor",
            reporter_email="child@example.org",
            reporter_ip="203.0.113.9",
        )
        for user in (reviewer, supervisor):
            client.force_login(user)
            doc = tree(client.get(f"/cases/{conv.case.pk}/"))
            (thread,) = doc.xpath("//section[@id='thread']")
            text = thread.text_content()
            assert "Made a report" in text
            assert "child@example.org" not in text and "203.0.113.9" not in text
        # Reporters' details are for supervisors, in the reports list, as on every case.
        client.force_login(reviewer)
        page = client.get(f"/cases/{conv.case.pk}/").content.decode()
        assert "child@example.org" not in page and "203.0.113.9" not in page

    def test_it_marks_reported_messages_in_words_not_colour_alone(self, client, reviewer):
        conv = conversation_case(size=4, reported=(1, 3))
        client.force_login(reviewer)
        doc = tree(client.get(f"/cases/{conv.case.pk}/"))
        marked = doc.xpath("//li[contains(@class, 'reported')][.//*[@data-testid='reported-mark']]")
        assert [li.get("data-message") for li in marked] == ["m-1", "m-3"]
        assert all("Reported message" in li.text_content() for li in marked)
        (plain,) = doc.xpath("//li[@data-message='m-0']")
        assert "reported" not in plain.get("class") and "Reported" not in plain.text_content()
        assert (
            b"Conversation: 4 messages, 2 reported" in client.get(f"/cases/{conv.case.pk}/").content
        )

    def test_it_escapes_message_text_and_keeps_long_texts_whole(self, client, reviewer):
        long = "word " * 2000
        texts = {0: "<script>alert('x')</script><b>bold</b>", 1: long}
        conv = conversation_case(size=2, text=lambda i: texts[i])
        client.force_login(reviewer)
        body = client.get(f"/cases/{conv.case.pk}/").content.decode()
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in body
        assert "<script>alert" not in body
        doc = lxml_html.fromstring(body)
        texts_shown = doc.xpath("//div[@class='message-text']")
        assert texts_shown[1].text_content() == long


@pytest.mark.django_db
class TestAttachments:
    def test_they_are_blurred_with_their_message_and_revealed_through_the_audited_view(
        self, client, reviewer, png_upload
    ):
        conv = conversation_case(
            size=3,
            attachments={2: [png_upload("a.png", colour=(10, 200, 30))]},
            images=[png_upload("b.png")],
        )
        attached = Media.objects.get(message__platform_id="m-2")
        loose = Media.objects.get(message__isnull=True)
        bank = HashBank.objects.create(name="Known list", slug="known", signal_types=["md5"])
        entry = BankEntry.objects.create(bank=bank, signal_type="md5", value="ab" * 16)
        Media.objects.filter(pk=attached.pk).update(hashed_at=timezone.now())
        Match.objects.create(media=attached, entry=entry, signal_type="md5", distance=0)
        client.force_login(reviewer)
        doc = tree(client.get(f"/cases/{conv.case.pk}/"))

        (message,) = doc.xpath("//li[@data-message='m-2']")
        (frame,) = message.xpath(".//div[@class='media-frame']")
        assert frame.get("data-src") == f"/cases/{conv.case.pk}/media/{attached.pk}/"
        assert frame.xpath(".//button[@class='reveal']") and not frame.xpath(".//img")
        assert "Known list" in message.xpath(".//ul[@data-testid='matches']")[0].text_content()
        # Not fetched by drawing the page; not listed again with the case's other files.
        assert not doc.xpath(f"//img[contains(@src, '/media/{attached.pk}/')]")
        media_card = doc.xpath("//section[h2[starts-with(., 'Media')]]")[0]
        assert media_card.xpath("h2")[0].text_content() == "Media (1)"
        assert media_card.xpath(f".//div[@data-media='{loose.pk}']")
        assert not AuditEvent.objects.filter(verb="media.viewed").exists()

        r = client.get(frame.get("data-src"))
        assert r.status_code == 200 and "no-store" in r["Cache-Control"]
        viewed = AuditEvent.objects.get(verb="media.viewed")
        assert (viewed.object_id, viewed.actor_id) == (str(attached.pk), reviewer.pk)

    def test_one_revealed_stays_revealed_when_the_decision_is_refused(
        self, client, reviewer, png_upload
    ):
        conv = conversation_case(size=150, attachments={120: [png_upload()]})
        attached = Media.objects.get(message__isnull=False)
        case_claim_next(user=reviewer)
        client.force_login(reviewer)
        assert client.get(f"/cases/{conv.case.pk}/media/{attached.pk}/").status_code == 200
        r = client.post(
            f"/cases/{conv.case.pk}/decide/",
            {
                "action": "remove",
                "policy": "child-safety/grooming",
                "thread_page": "2",
                "revealed": f"image:{attached.pk}",
            },
        )
        assert r.status_code == 400
        (frame,) = tree(r).xpath("//li[@data-message='m-120']//div[@class='media-frame']")
        assert frame.get("data-revealed") == "1"
        assert frame.xpath(".//img/@src")[0].startswith(
            f"/cases/{conv.case.pk}/media/{attached.pk}/?reveal="
        )
        assert AuditEvent.objects.filter(verb="media.viewed").count() == 1

    def test_one_that_came_with_another_case_is_shown_there(
        self, client, reviewer, submit_report, png_upload
    ):
        """A file is served only through the case it came with (the audited media view checks
        it): one a report on another case brought (an earlier case of the conversation) is
        pointed to, not revealed here."""
        conv = conversation_case(size=2, attachments={0: [png_upload()]})
        other = submit_report(category="grooming")
        Media.objects.filter(message__conversation=conv.item).update(report=other)
        client.force_login(reviewer)
        doc = tree(client.get(f"/cases/{conv.case.pk}/"))
        (message,) = doc.xpath("//li[@data-message='m-0']")
        assert not message.xpath(".//div[@class='media-frame']")
        (note,) = message.xpath(".//*[@data-testid='attachment-elsewhere']")
        assert note.xpath(".//a/@href") == [f"/cases/{other.case_id}/"]


@pytest.mark.django_db
class TestPaging:
    def test_it_pages_with_plain_links(self, client, reviewer):
        conv = conversation_case(size=250, reported=(130,))
        client.force_login(reviewer)
        url = f"/cases/{conv.case.pk}/"
        doc = tree(client.get(url))
        assert thread_ids(doc) == [f"m-{i}" for i in range(100)]
        assert doc.xpath("//span[@aria-current='page']/text()") == ["1", "1"]  # top, bottom
        (later,) = doc.xpath("//nav[@data-testid='thread-pager-top']//a[@rel='next']")
        assert later.get("href") == f"{url}?thread_page=2#thread"

        doc = tree(client.get(f"{url}?thread_page=3"))
        assert thread_ids(doc) == [f"m-{i}" for i in range(200, 250)]
        assert "Messages 201–250 of 250" in doc.xpath("//h3[@id='thread-messages-title']")[0].text
        # Not a page number, or past the end: the nearest page, never an error.
        assert thread_ids(tree(client.get(f"{url}?thread_page=x")))[0] == "m-0"
        assert thread_ids(tree(client.get(f"{url}?thread_page=99")))[0] == "m-200"

    def test_it_jumps_to_the_first_reported_message(self, client, reviewer):
        conv = conversation_case(size=250, reported=(230, 130))
        first = Message.objects.get(conversation=conv.item, platform_id="m-130")
        client.force_login(reviewer)
        url = f"/cases/{conv.case.pk}/"
        (jump,) = tree(client.get(url)).xpath("//a[@data-testid='first-reported']")
        assert jump.get("href") == f"{url}?thread_page=2#message-{first.pk}"
        assert jump.get("hx-get") == f"{url}thread/?thread_page=2&focus={first.pk}"
        doc = tree(client.get(jump.get("hx-get"), **HX))
        (focused,) = doc.xpath("//*[@autofocus]")
        assert focused.get("data-message") == "m-130"

    def test_htmx_gets_only_the_thread_and_others_the_case_page(self, client, reviewer):
        conv = conversation_case(size=150)
        client.force_login(reviewer)
        r = client.get(f"/cases/{conv.case.pk}/thread/?thread_page=2", **HX)
        assert r.status_code == 200
        body = r.content.decode()
        assert body.lstrip().startswith('<section class="card thread" id="thread"')
        assert "<html" not in body and 'decision-form"' not in body.replace(
            'form="decision-form"', ""
        )
        doc = lxml_html.fromstring(body)
        assert thread_ids(doc) == [f"m-{i}" for i in range(100, 150)]
        # The heading takes the focus (htmx honours autofocus), so the page change is heard.
        assert doc.xpath("//*[@autofocus]/@id") == ["thread-title"]
        assert doc.xpath("//input[@name='thread_page'][@form='decision-form']/@value") == ["2"]

        r = client.get(f"/cases/{conv.case.pk}/thread/?thread_page=2")
        assert r.status_code == 302
        assert r["Location"] == f"/cases/{conv.case.pk}/?thread_page=2#thread"

    def test_the_thread_view_is_for_conversations_and_who_may_see_the_case(
        self, client, reviewer, make_user, submit_report
    ):
        from accounts.roles import Role
        from moderation.cases.models import Queue

        post = submit_report()
        client.force_login(reviewer)
        assert client.get(f"/cases/{post.case_id}/thread/", **HX).status_code == 404
        conv = conversation_case()
        outsider = make_user("g", Role.REVIEWER, queues=[Queue.objects.get(slug="general")])
        client.force_login(outsider)
        assert client.get(f"/cases/{conv.case.pk}/thread/", **HX).status_code == 403

    def test_a_refused_decision_draws_the_thread_at_the_page_being_read(self, client, reviewer):
        conv = conversation_case(size=150)
        case_claim_next(user=reviewer)
        client.force_login(reviewer)
        r = client.post(
            f"/cases/{conv.case.pk}/decide/",
            {"action": "remove", "policy": "child-safety/grooming", "thread_page": "2"},
        )
        assert r.status_code == 400  # intent is needed on a grooming finding
        assert thread_ids(tree(r))[0] == "m-100"


@pytest.mark.django_db
class TestSize:
    def test_10000_messages_read_the_same_queries_as_3_and_load_one_page(
        self, client, reviewer, png_upload
    ):
        small = conversation_case(size=3, reported=(1,), attachments={0: [png_upload()]})
        large = conversation_case(
            size=10_000,
            reported=(1, 5_000, 9_999),
            attachments={0: [png_upload()], 9_999: [png_upload("b.png")]},
            platform_id="conv-2",
        )
        assert Message.objects.filter(conversation=large.item).count() == 10_000
        client.force_login(reviewer)
        counts = {}
        for name, conv in (("small", small), ("large", large)):
            hold(conv.case, reviewer)
            url = f"/cases/{conv.case.pk}/"
            client.get(url)  # warm: the navigation's inbox counts are kept briefly
            with CaptureQueriesContext(connection) as page:
                doc = tree(client.get(url))
            with CaptureQueriesContext(connection) as part:
                # The last page: 1 of 3 messages, 100 of 10,000 (each with a file).
                part_doc = tree(client.get(f"{url}thread/?thread_page=100", **HX))
            counts[name] = (len(page), len(part))
            shown = min(PER_PAGE, Message.objects.filter(conversation=conv.item).count())
            assert len(thread_ids(doc)) == shown
            assert doc.xpath("//fieldset[@data-testid='decision-target-fields']")
            assert thread_ids(part_doc)[-1] == f"m-{conv.messages().count() - 1}"
            # Messages are only ever read a page at a time (LIMIT), by the ids of at most a
            # page (the page's ids are selected first, then its rows), or counted.
            for query in [*page.captured_queries, *part.captured_queries]:
                sql = query["sql"]
                if 'FROM "reports_message"' in sql and "COUNT(" not in sql:
                    ids = re.search(r'WHERE "reports_message"\."id" IN \(([\d, ]+)\)', sql)
                    assert "LIMIT" in sql or (ids and ids[1].count(",") < PER_PAGE), sql
        assert counts["small"] == counts["large"]
        doc = tree(client.get(f"/cases/{large.case.pk}/?thread_page=100"))
        assert thread_ids(doc)[-1] == "m-9999"
        assert doc.xpath("//a[@data-testid='first-reported']/@href")[0].endswith(
            "?thread_page=1#message-"
            + str(Message.objects.get(conversation=large.item, platform_id="m-1").pk)
        )
