"""The self-report page's way out, and the icon every page names."""

from django.contrib.staticfiles import finders


def test_it_offers_a_quick_exit_first_on_the_self_report_page(client, db, settings):
    settings.QUICK_EXIT_URL = "https://weather.example/"
    html = client.get("/report/self/").content.decode()
    link = '<a class="quick-exit" href="https://weather.example/" rel="noreferrer noopener"'
    assert link in html
    # Before anything else the page says.
    assert html.index('data-testid="quick-exit"') < html.index("<h1>")


def test_the_public_report_form_has_no_quick_exit(client, db):
    assert b"data-quick-exit" not in client.get("/report/").content


def test_every_page_names_its_icon_and_the_icon_is_served(client, db):
    for url in ("/report/", "/report/self/", "/login/"):
        html = client.get(url).content.decode()
        assert 'rel="icon"' in html and "favicon.svg" in html, url
    assert finders.find("favicon.svg")
