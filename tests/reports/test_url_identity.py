"""Which content a link names (issue 14): spellings of one link roll up into one case, through
the real intake; links that may name other content do not; migration 0009 recomputes the keys of
items stored by the previous rule without merging anything."""

import importlib
import json

import pytest
from django.apps import apps
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from moderation.cases.models import Case
from reports.content import canonical_url, url_key
from reports.models import ContentItem, Report
from tests.api_helpers import auth, report_payload, token_for

migration = importlib.import_module("reports.migrations.0009_canonical_url_keys")

LINK = "https://social.example/p/77"

# One link, spelled as people and share buttons spell it.
SPELLINGS = {
    "host case": "https://SOCIAL.Example/p/77",
    "trailing slash": "https://social.example/p/77/",
    "fragment": "https://social.example/p/77#comments",
    "utm parameters": "https://social.example/p/77?utm_source=newsletter&utm_medium=email",
    "fbclid": "https://social.example/p/77?fbclid=IwAR2xyz",
    "gclid": "https://social.example/p/77?gclid=Cj0KCQ",
    "default port": "https://social.example:443/p/77",
    "all at once": "HTTPS://Social.Example:443/p/77/?utm_campaign=x&fbclid=1#top",
}


def report_by_form(client, url: str) -> Report:
    response = client.post("/report/", {"category": "spam", "content_url": url})
    assert response.status_code == 302, response.content
    return Report.objects.order_by("pk").last()


class TestCanonicalUrl:
    @pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
    def test_it_gives_each_spelling_of_a_link_the_links_form(self, spelling):
        assert canonical_url(spelling) == LINK

    @pytest.mark.parametrize(
        ("url", "canonical"),
        [
            ("http://social.example:80", "http://social.example/"),
            ("https://social.example:8443/p/1", "https://social.example:8443/p/1"),
            ("https://social.example/%7Euser/%2f", "https://social.example/~user/%2F"),
            ("https://例え.jp/p", "https://xn--r8jz45g.jp/p"),
            (
                "https://social.example/p?_ga=1&page=2&igshid=x&mc_cid=y",
                "https://social.example/p?page=2",
            ),
            ("https://social.example/p?b=2&a=1&msclkid=z", "https://social.example/p?b=2&a=1"),
        ],
    )
    def test_it_drops_what_cannot_change_the_content(self, url, canonical):
        assert canonical_url(url) == canonical

    @pytest.mark.parametrize(
        ("one", "other"),
        [
            ("https://social.example/p/77", "https://social.example/p/78"),
            ("https://social.example/p/AbC", "https://social.example/p/abc"),
            ("https://social.example/watch?v=abc", "https://social.example/watch?v=xyz"),
            (
                "https://social.example/watch?v=abc&list=1",
                "https://social.example/watch?list=1&v=abc",
            ),
            ("https://social.example/watch?v=abc&si=1", "https://social.example/watch?v=abc"),
            ("http://social.example/p/77", "https://social.example/p/77"),
            ("https://social.example:8443/p/77", "https://social.example/p/77"),
        ],
    )
    def test_it_keeps_apart_what_may_name_other_content(self, one, other):
        assert url_key(one) != url_key(other)

    @pytest.mark.parametrize(
        "odd",
        [
            "http://[::1",
            "http://[::1]:80/x",
            "http://x:abc/",
            "http://x:99999999999999/",
            "%zz",
            "\x08 #",
            "?\x08&",
        ],
    )
    def test_it_never_raises_on_odd_input(self, odd):
        assert canonical_url(canonical_url(odd)) == canonical_url(odd)

    @given(st.text())
    def test_it_never_raises_and_the_canonical_form_is_its_own(self, text):
        assert canonical_url(canonical_url(text)) == canonical_url(text)


@pytest.mark.django_db
class TestRollupThroughIntake:
    @pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
    def test_it_rolls_a_form_report_about_a_spelling_into_the_links_case(self, client, spelling):
        first = report_by_form(client, LINK)
        second = report_by_form(client, spelling)
        assert second.case_id == first.case_id and second.content_item_id == first.content_item_id
        assert Case.objects.get().reports_count == 2
        # The link is kept as the first report gave it.
        assert ContentItem.objects.get().url == LINK

    @pytest.mark.parametrize(
        "spelling",
        [SPELLINGS["trailing slash"], SPELLINGS["utm parameters"], SPELLINGS["default port"]],
    )
    def test_it_rolls_a_platform_report_about_a_spelling_into_the_forms_case(
        self, client, make_user, spelling
    ):
        first = report_by_form(client, LINK)
        payload = report_payload(
            content={"id": "post-77", "url": spelling, "type": "post"}, media=[]
        )
        response = client.post(
            "/api/v1/reports",
            data=json.dumps(payload),
            content_type="application/json",
            **auth(token_for(make_user)),
        )
        assert response.status_code == 201, response.content
        assert response.json()["case_id"] == first.case_id
        item = ContentItem.objects.get()
        assert (item.platform_id, item.url) == ("post-77", LINK)

    def test_it_keeps_a_different_path_apart(self, client):
        first = report_by_form(client, "https://social.example/p/77/")
        assert report_by_form(client, "https://social.example/p/77").case_id == first.case_id
        assert report_by_form(client, "https://social.example/p/770").case_id != first.case_id

    def test_it_keeps_parameters_that_are_not_tracking(self, client):
        first = report_by_form(client, "https://social.example/watch?v=abc&utm_source=x")
        same = report_by_form(client, "https://social.example/watch?v=abc")
        other = report_by_form(client, "https://social.example/watch?v=xyz&utm_source=x")
        assert same.case_id == first.case_id and other.case_id != first.case_id

    def test_it_keeps_the_paths_case(self, client):
        first = report_by_form(client, "https://social.example/p/AbC/")
        assert report_by_form(client, "https://social.example/p/AbC").case_id == first.case_id
        assert report_by_form(client, "https://social.example/p/abc").case_id != first.case_id


def stored_by_the_previous_rule(item: ContentItem) -> ContentItem:
    """The item as the previous release stored it: keyed by the previous rule."""
    old = migration.previous_url_key(item.url)
    key = f"url:{old}" if item.key.startswith("url:") else item.key
    ContentItem.objects.filter(pk=item.pk).update(key=key, url_key=old)
    item.refresh_from_db()
    return item


@pytest.mark.django_db
class TestMigration:
    def test_it_recomputes_the_keys_of_items_stored_by_the_previous_rule(self, submit_report):
        by_url = stored_by_the_previous_rule(
            submit_report(content_url="https://social.example/p/5/?utm_source=x").content_item
        )
        by_id = stored_by_the_previous_rule(
            submit_report(
                platform_id="post-6", content_url="https://social.example/p/6/"
            ).content_item
        )
        assert by_url.url_key != url_key(by_url.url)
        migration.forwards(apps, None)
        by_url.refresh_from_db()
        by_id.refresh_from_db()
        assert by_url.key == f"url:{url_key('https://social.example/p/5')}"
        assert by_url.url_key == url_key("https://social.example/p/5")
        assert (by_id.key, by_id.url_key) == ("id:post-6", url_key("https://social.example/p/6"))
        # And a report about another spelling of either link now finds it.
        assert submit_report(content_url="https://social.example/p/5#x").case == by_url.cases.get()
        assert submit_report(content_url="https://social.example/p/6").case == by_id.cases.get()

    def test_it_keeps_both_items_when_two_are_now_one_and_new_reports_join_the_oldest(
        self, submit_report
    ):
        # Two spellings of one link, two items under the previous rule.
        older = stored_by_the_previous_rule(
            submit_report(content_url="https://social.example/p/7/").content_item
        )
        newer = stored_by_the_previous_rule(
            submit_report(content_url="https://social.example/p/7?fbclid=1").content_item
        )
        assert older.pk != newer.pk
        newer_key = newer.key
        migration.forwards(apps, None)
        older.refresh_from_db()
        newer.refresh_from_db()
        canonical = url_key("https://social.example/p/7")
        assert older.key == f"url:{canonical}" and newer.key == newer_key
        assert older.url_key == newer.url_key == canonical
        # Nothing merged: each keeps its open case.
        assert Case.objects.filter(status="open").count() == 2
        assert submit_report(content_url="https://social.example/p/7").case == older.cases.get()

    def test_the_item_that_already_has_the_canonical_key_keeps_it(self, submit_report):
        older = stored_by_the_previous_rule(
            submit_report(content_url="https://social.example/p/8/").content_item
        )
        # Created by the new rule after the older one was stored by the previous rule.
        newer = submit_report(content_url="https://social.example/p/8").content_item
        older_key = older.key
        migration.forwards(apps, None)
        older.refresh_from_db()
        newer.refresh_from_db()
        assert older.key == older_key and newer.key == f"url:{url_key(newer.url)}"
        assert older.url_key == newer.url_key
        assert submit_report(content_url="https://social.example/p/8#x").case == older.cases.get()

    def test_it_reverses_to_the_previous_rule(self, submit_report):
        item = submit_report(content_url="https://social.example/p/9/?gclid=1").content_item
        previous = migration.previous_url_key(item.url)
        assert item.url_key != previous
        migration.backwards(apps, None)
        item.refresh_from_db()
        assert (item.key, item.url_key) == (f"url:{previous}", previous)

    def test_the_command_recomputes_what_the_previous_release_wrote(self, submit_report, capsys):
        item = stored_by_the_previous_rule(
            submit_report(content_url="https://social.example/p/10/").content_item
        )
        call_command("recompute_content_keys")
        item.refresh_from_db()
        assert item.url_key == url_key("https://social.example/p/10")
        assert "recomputed the URL keys of 1 content item(s); 0 keep" in capsys.readouterr().out
