"""Public forms sent back with errors: one summary first, each error linking to its field, and a
clear request to attach again the files the browser does not send back."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import png_bytes


def summary_links(html: str) -> list[str]:
    block = html[html.index('data-testid="error-summary"') :]
    block = block[: block.index("</div>")]
    return re.findall(r'<a href="#([^"]+)">', block)


EMPTY = {"content_url": "", "description": ""}


@pytest.mark.django_db
class TestErrorSummary:
    def test_it_lists_every_error_first_with_a_link_to_its_field(self, client):
        html = client.post("/report/", {"content_url": "not a link"}).content.decode()
        assert html.index("There is a problem") < html.index("<fieldset")
        links = summary_links(html)
        assert "field-category" in links and "field-content_url" in links
        for target in links:
            assert f'id="{target}"' in html, target

    def test_a_valid_form_has_no_summary(self, client):
        assert b"error-summary" not in client.get("/report/").content

    def test_it_asks_for_files_again_when_the_form_had_a_problem(self, client):
        upload = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
        html = client.post("/report/", {"images": upload}).content.decode()
        assert "Attach your files again" in html
        assert "field-images" in summary_links(html)

    def test_without_files_it_does_not_ask_for_them(self, client):
        # What a browser sends for the form left empty (every field, empty).
        html = client.post("/report/", EMPTY).content.decode()
        assert "There is a problem" in html and "Attach your files again" not in html

    def test_the_self_report_and_status_forms_sum_up_their_errors(self, client):
        html = client.post("/report/self/", EMPTY).content.decode()
        assert "field-content_url" in summary_links(html)
        html = client.get("/report/status/", {"reference": "nope"}).content.decode()
        assert summary_links(html) == ["field-reference"]
