"""axe-core in Chromium on every page of the permission table (tests/test_permissions.py), as the
people who use each, and on the public pages, forms with their errors included: no serious or
critical violation anywhere.

axe-core is vendored (tests/browser/vendor/axe.min.js, 4.14.1, MPL-2.0; its licence beside it):
the tests never fetch anything from the network.
"""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from moderation.cases.services import case_claim_next
from tests.test_permissions import CONSOLE, ROLES, world  # noqa: F401

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SERIOUS = ("serious", "critical")
# The console's pages each role is the least privileged to see: every page is checked once, as
# the first role the table lets in, and the case and escalation pages again as a supervisor
# (their controls differ by role).
STAFF = ["reviewer", "senior", "supervisor", "admin"]
# Fragments a page polls for (htmx), not pages: checked inside the pages that draw them.
FRAGMENTS = ("/progress/", "/supervise/queues/live/", "/thread/")
# Files, not pages: a case's media and a packet's download (the browser's own viewer draws them).
FILES = ("/cases/{case}/media/{media}/", "/escalations/{escalation}/packet/")


def console_pages(role: str) -> list[str]:
    pages = []
    for method, url, *expected in CONSOLE:
        if method != "get" or re.search(r"\.(csv|json)(\?|$)", url) or url.endswith(FRAGMENTS):
            continue
        if url in FILES:
            continue
        allowed = [r for r, outcome in zip(ROLES, expected, strict=True) if outcome == "ok"]
        first = next((r for r in STAFF if r in allowed), None)
        if first == role or (
            role == "supervisor"
            and url.startswith(("/cases/{case}/", "/escalations/{escalation}/"))
        ):
            pages.append(url)
    return pages


def violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it stands."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "where": [n["target"] for n in v["nodes"]][:5],
            "why": [n["failureSummary"] for n in v["nodes"]][:2],
        }
        for v in result
        if v["impact"] in SERIOUS
    ]


def check(page, found: dict, label: str) -> None:
    if problems := violations(page):
        found[label] = problems


def report(found: dict) -> str:
    return json.dumps(found, indent=1)


def log_in_as(page, user) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".topbar .who")).to_contain_text(user.get_username())


@pytest.mark.parametrize("role", STAFF)
def test_console_pages_have_no_serious_violations(new_page, world, role):  # noqa: F811
    users, ids = world
    user = users[role]
    case_claim_next(user=user)  # holding the case: its page shows the decision panel
    pages = console_pages(role)
    assert pages, f"no console page is checked as {role}"
    page = new_page()
    log_in_as(page, user)
    found = {}
    for url in pages:
        response = page.goto(url.format(**ids))
        assert response.status == 200, (url, response.status)
        check(page, found, url)
    inbox = page.locator("[data-inbox] summary")
    if inbox.count():
        inbox.click()  # the navigation's inbox, opened
        check(page, found, "inbox opened")
    if role == "reviewer":
        # The navigation's inbox and a refused decision with its errors shown.
        page.goto(f"/cases/{ids['case']}/")
        # No action chosen, sent past the browser's own check: the server refuses it.
        page.evaluate("document.getElementById('decision-form').noValidate = true")
        page.get_by_role("button", name=re.compile(r"^Record decision")).click()
        expect(page.locator(".errors").first).to_be_visible()
        check(page, found, "case page, refused decision")
    assert not found, report(found)


PUBLIC_PAGES = [
    "/report/",
    "/report/self/",
    "/report/conversation/",
    "/report/status/",
    "/accounts/login/",
]


def test_public_pages_and_their_errors_have_no_serious_violations(page):
    found = {}
    for url in PUBLIC_PAGES:
        page.goto(url)
        check(page, found, url)
    # Each form sent empty: its error summary and marked fields.
    for url in ("/report/", "/report/self/", "/report/conversation/", "/report/status/"):
        page.goto(url)
        page.locator("main form button[type=submit], main form button:not([type])").last.click()
        expect(page.locator("[data-error-summary]")).to_be_visible()
        check(page, found, f"{url} with errors")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    check(page, found, "/accounts/login/ refused")
    assert not found, report(found)
