"""The case page's Links section: every link found in the case's reports, flags and messages,
what became of it in words, where it was found (a message linked at its page of the thread), the
address as text (never a link a reviewer could open), at most 50 shown with the count, in the
same queries for 2 links as for 40."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from lxml import html as lxml_html

from moderation.cases.models import Case
from moderation.review.conversations import PER_PAGE as THREAD_PER_PAGE
from moderation.review.links import SHOWN
from reports.link_intake import url_key
from reports.models import Link, Message
from reports.services import flag_submit
from tests.conversations import report_conversation
from tests.intake import intake_fields

# Long enough to need wrapping; a name that resolves nowhere (nothing is fetched in these tests).
LONG = "https://img.example.invalid/" + "a1b2c3d4/" * 30 + "photo.jpg?token=" + "x" * 120


def link(report=None, *, url, flag=None, message=None, item=None, **fields) -> Link:
    owner = report or flag
    return Link.objects.create(
        content_item=item or owner.content_item,
        report=report,
        flag=flag,
        message=message,
        url=url,
        url_key=url_key(url),
        **fields,
    )


def case_page(client, case_id, query=""):
    response = client.get(f"/cases/{case_id}/{query}")
    assert response.status_code == 200
    return response, lxml_html.fromstring(response.content.decode())


def words(element) -> str:
    return " ".join(element.text_content().split())


def shown_links(doc) -> dict[str, object]:
    """The Links section's items by their address as shown."""
    return {
        li.xpath(".//*[@data-testid='link-url']")[0].text: li
        for li in doc.xpath("//section[@id='links']//li[@data-link]")
    }


def status(li) -> str:
    return words(li.xpath(".//*[@data-testid='link-status']")[0])


def found(li) -> str:
    return words(li.xpath(".//*[@data-testid='link-found']")[0])


@pytest.mark.django_db
class TestLinks:
    def test_it_says_what_became_of_each_link(self, client, supervisor, submit_report, png_upload):
        report = submit_report(
            description="see https://a.example.invalid/1.png",
            links=["https://a.example.invalid/2.png"],
            images=[png_upload()],
        )
        # The intake recorded the description's link and the given one, waiting for the worker.
        assert set(report.links.values_list("status", flat=True)) == {"pending"}
        retrying = report.links.get(url="https://a.example.invalid/2.png")
        Link.objects.filter(pk=retrying.pk).update(attempts=1, error="the server answered 503")
        fetched = link(
            report,
            url="https://a.example.invalid/3.png",
            status="fetched",
            media=report.media.get(),
            attempts=1,
            final_url="https://cdn.example.invalid/3.png",
            content_type="image/png",
        )
        link(
            report,
            url="https://a.example.invalid/page.html",
            status="refused",
            attempts=1,
            error="not an image or a video (text/html)",
        )
        link(
            report,
            url="https://down.example.invalid/4.png",
            status="failed",
            attempts=4,
            error="the server did not answer",
        )
        client.force_login(supervisor)
        _, doc = case_page(client, report.case_id)
        (heading,) = doc.xpath("//section[@id='links']/h2")
        assert words(heading) == "Links (5)"
        links = shown_links(doc)
        assert status(links["https://a.example.invalid/1.png"]) == "Waiting to be fetched"
        assert status(links["https://a.example.invalid/2.png"]) == (
            "Waiting to be fetched (tried 1 time: the server answered 503; it will be tried again)"
        )
        li = links["https://a.example.invalid/3.png"]
        assert status(li) == "Fetched: image"
        media = fetched.media
        file = words(li.xpath(".//*[@data-testid='link-file']")[0])
        assert file.startswith("· the file is in Media above, blurred (image/png,")
        # Which goes to the file's own figure in the Media section.
        (href,) = li.xpath(".//*[@data-testid='link-file']//a/@href")
        assert href == f"#media-{media.pk}" and doc.xpath(f"//figure[@id='media-{media.pk}']")
        # Stored under its SHA-256 at intake: the partial names the file by it.
        assert media.sha256 and f"SHA-256 {media.sha256[:16]}…" in file
        assert "Redirected to https://cdn.example.invalid/3.png" in words(li)
        assert status(links["https://a.example.invalid/page.html"]) == (
            "Refused: not an image or a video (text/html)"
        )
        assert status(links["https://down.example.invalid/4.png"]) == (
            "Failed after 4 attempts: the server did not answer"
        )
        for li in links.values():
            assert found(li) == f"Found in report {report.reference}"

    def test_it_never_makes_an_address_a_link(self, client, supervisor, submit_report):
        report = submit_report(links=[LONG])
        link(report, url="https://b.example.invalid/x.png", status="refused", error="too large")
        client.force_login(supervisor)
        r, doc = case_page(client, report.case_id)
        (section,) = doc.xpath("//section[@id='links']")
        html = r.content.decode()
        for url in (LONG, "https://b.example.invalid/x.png"):
            # Shown in a <code>, whole; never in an href, src or anything else to follow.
            (code,) = section.xpath(f".//code[@data-testid='link-url'][text()='{url}']")
            assert "link-url" in code.get("class")
            assert not doc.xpath(f"//*[@href='{url}' or @src='{url}' or @hx-get='{url}']")
            assert f'="{url}' not in html and f"='{url}" not in html
        assert not section.xpath(".//a[starts-with(@href, 'http')]")
        note = words(section.xpath(".//*[@data-testid='links-note']")[0])
        assert "not as links" in note and "child sexual abuse material" in note

    def test_it_says_which_flag_found_a_link(self, client, supervisor):
        flag, _ = flag_submit(
            **intake_fields(
                source="link-scanner",
                external_id="ls-1",
                category="csam",
                score=0.9,
                involves_child=True,
                platform_id="post-9",
                links=["https://c.example.invalid/1.png"],
            )
        )
        client.force_login(supervisor)
        _, doc = case_page(client, flag.case_id)
        (li,) = shown_links(doc).values()
        assert found(li) == "Found in a flag from link-scanner"

    def test_a_message_link_leads_to_its_message_in_the_thread(self, client, supervisor):
        # Message 150 (page 2 of the thread) gives a link; the intake records it.
        result = report_conversation(
            count=THREAD_PER_PAGE + 60,
            reported=(150,),
            texts={150: "look at this https://d.example.invalid/me.jpg ok"},
        )
        case_id = result.report.case_id
        message = Message.objects.get(platform_id="conv-1-m150")
        assert Link.objects.get().message == message
        client.force_login(supervisor)
        _, doc = case_page(client, case_id)
        (li,) = shown_links(doc).values()
        assert status(li) == "Waiting to be fetched"
        assert found(li) == "Found in message conv-1-m150 (page 2 of the conversation)"
        (a,) = li.xpath(".//*[@data-testid='link-found']/a")
        assert a.get("href") == f"/cases/{case_id}/?thread_page=2#message-{message.pk}"
        assert a.get("hx-get") == f"/cases/{case_id}/thread/?thread_page=2&focus={message.pk}"
        # The link lands on the message: that page of the thread has it under that id.
        _, doc = case_page(client, case_id, "?thread_page=2")
        (target,) = doc.xpath(f"//*[@id='message-{message.pk}']")
        assert target.get("data-message") == "conv-1-m150"
        # The first page does not.
        _, doc = case_page(client, case_id)
        assert not doc.xpath(f"//*[@id='message-{message.pk}']")

    def test_a_file_fetched_from_a_message_is_with_its_message(
        self, client, supervisor, png_upload
    ):
        result = report_conversation(
            texts={1: "https://e.example.invalid/p.png"}, attachments={3: [png_upload()]}
        )
        attached = result.report.media.get()
        Link.objects.filter(pk=Link.objects.get().pk).update(
            status="fetched", media=attached, attempts=1, content_type="image/png"
        )
        client.force_login(supervisor)
        _, doc = case_page(client, result.report.case_id)
        (li,) = shown_links(doc).values()
        assert status(li) == "Fetched: image"
        file = words(li.xpath(".//*[@data-testid='link-file']")[0])
        assert file.startswith("· the file is shown with its message in the conversation, blurred")

    def test_a_link_of_an_earlier_case_says_which_case_its_file_is_on(
        self, client, supervisor, submit_report, png_upload
    ):
        first = submit_report(platform_id="post-1", images=[png_upload()])
        link(
            first, url="https://f.example.invalid/1.png", status="fetched", media=first.media.get()
        )
        Case.objects.filter(pk=first.case_id).update(status="decided", decided_at=first.created_at)
        later = Case.objects.create(
            content_item=first.content_item, queue=first.case.queue, category="harassment"
        )
        client.force_login(supervisor)
        _, doc = case_page(client, later.pk)
        (li,) = shown_links(doc).values()
        file = words(li.xpath(".//*[@data-testid='link-file']")[0])
        assert file.startswith(f"· the file is on case {first.case_id}, blurred")
        assert found(li) == f"Found in report {first.reference}, with case {first.case_id}"
        assert li.xpath(f".//a[@href='/cases/{first.case_id}/']")

    def test_a_case_without_links_has_no_section(self, client, supervisor, submit_report):
        report = submit_report()
        client.force_login(supervisor)
        r, doc = case_page(client, report.case_id)
        assert r.context["links"] is None
        assert not doc.xpath("//section[@id='links']")

    def test_it_shows_at_most_fifty_in_the_order_found(self, client, supervisor, submit_report):
        report = submit_report()
        urls = [f"https://g.example.invalid/{i}.png" for i in range(SHOWN + 10)]
        for url in urls:
            link(report, url=url)
        client.force_login(supervisor)
        r, doc = case_page(client, report.case_id)
        assert list(shown_links(doc)) == urls[:SHOWN]
        assert words(doc.xpath("//section[@id='links']/h2")[0]) == f"Links ({SHOWN + 10})"
        more = words(doc.xpath("//*[@data-testid='links-more']")[0])
        assert (
            more
            == f"Showing the first {SHOWN} of {SHOWN + 10} links, in the order they were found."
        )


@pytest.mark.django_db
class TestQueryCount:
    def test_it_reads_as_many_queries_for_two_links_as_for_forty(
        self, client, supervisor, png_upload
    ):
        def build(name, n):
            texts = {i: f"https://{name}.example.invalid/m{i}.png" for i in range(n // 2)}
            result = report_conversation(
                conversation_id=name,
                adult=f"{name}-adult",
                minor=f"{name}-minor",
                count=max(n, 4),
                texts=texts,
                attachments={0: [png_upload(colour=(len(name), 1, 2))]},
            )
            report = result.report
            for i in range(n - n // 2):
                state = ("pending", "fetched", "refused", "failed")[i % 4]
                link(
                    report,
                    url=f"https://{name}.example.invalid/r{i}.png",
                    status=state,
                    attempts=1 if state != "pending" else 0,
                    error="" if state in ("pending", "fetched") else "no",
                    media=report.media.first() if state == "fetched" else None,
                )
            assert Link.objects.filter(content_item=report.content_item).count() == n
            return report.case_id

        small, large = build("small", 2), build("large", 40)
        client.force_login(supervisor)
        client.get(f"/cases/{small}/")  # the navigation's counts, cached briefly, are read once

        def count(case_id):
            with CaptureQueriesContext(connection) as queries:
                r = client.get(f"/cases/{case_id}/")
            assert r.status_code == 200
            return len(queries), r.context["links"]

        (few, small_links), (many, large_links) = count(small), count(large)
        assert (small_links.total, len(large_links.links)) == (2, 40)
        assert few == many
