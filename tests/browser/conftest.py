"""Browser fixtures: one headless Chromium per test session, one fresh context (cookies, storage)
per page a test opens. Driven through Playwright's sync API against pytest-django's live_server.

Chromium is Debian's (/usr/bin/chromium): Playwright never downloads a browser here.
"""

import os
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Long enough for a slow CI machine, short enough that a missing element fails fast.
TIMEOUT_MS = 10_000
PASSWORD = "pw-for-tests"  # what tests/conftest.py's make_user gives everyone


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Remember how each phase went, so page fixtures can keep a screenshot of a failed test.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            # CI must never go green by silently not running the browser tests.
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)

    expect.set_options(timeout=TIMEOUT_MS)
    # Playwright's sync API keeps an asyncio loop running in this thread, and Django refuses ORM
    # calls from a thread with a running loop. The tests use the ORM between browser steps, so
    # allow it while Playwright runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # Django keeps connections in an asgiref Local that is thread-local while no loop runs and
    # context-local once one does, so starting Playwright would hand the test thread fresh
    # connection objects. The ones set up with the test database carry its state, such as the
    # snapshot serialized_rollback restores (without it, after another DB test ran first, every
    # browser test but the first finds no roles and no queues). Keep using those.
    connections_before = {alias: connections[alias] for alias in connections}
    try:
        with sync_playwright() as playwright:
            for alias, connection in connections_before.items():
                connections[alias] = connection
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, live_server, request, tmp_path):
    """Open a page in a fresh browser context: each call is a separate person's browser.

    Uncaught JavaScript errors fail the test; a failed test leaves screenshots in tmp_path.
    """
    opened = []

    def make():
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        opened.append((context, page, errors))
        return page

    yield make

    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    for n, (context, page, errors) in enumerate(opened):
        if failed:
            shot = tmp_path / f"page-{n}.png"
            try:
                page.screenshot(path=shot, full_page=True)
                print(f"screenshot of {page.url}: {shot}")
            except Exception as e:  # the page may be gone; the test's own error matters more
                print(f"no screenshot of page {n}: {e}")
        context.close()
        if not failed:
            assert errors == [], f"JavaScript errors on {page.url}: {errors}"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def log_in(live_server):
    """Log in through the real login form and land on the console."""

    def log_in(page, username, password=PASSWORD):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        # LOGIN_REDIRECT_URL: staff start on their queues.
        expect(page).to_have_url(f"{live_server.url}/review/")
        expect(page.locator(".topbar .who")).to_contain_text(username)

    return log_in
