"""Queue health in a real browser: reached from the nav, drawn without script errors, and its
live partial swapped in place by htmx with the new counts."""

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.supervision.queue_health import queue_hours_refresh

pytestmark = pytest.mark.browser


def test_a_supervisor_watches_the_queues(page, log_in, make_user, submit_report, tmp_path):
    make_user("supervisor1", Role.SUPERVISOR)
    submit_report(category="spam")
    queue_hours_refresh()

    log_in(page, "supervisor1")
    page.get_by_role("link", name="Queue health").click()
    expect(page.get_by_role("heading", name="Queue health")).to_be_visible()
    general = page.locator('[data-testid=queue-health-table] tr[data-queue="general"]')
    expect(general.locator("[data-col=open]")).to_have_text("1")
    chart = page.get_by_role("img", name="General: arrivals and decisions per hour")
    expect(chart.first).to_be_visible()
    page.screenshot(path=str(tmp_path / "queue-health.png"), full_page=True)

    submit_report(category="spam")
    from django.core.cache import cache

    cache.clear()  # the shared counts are 10 s fresh; the next poll recounts
    # What the 30 s poll does, now rather than in 30 s.
    page.evaluate(
        "htmx.ajax('GET', '/supervise/queues/live/', {target: '#queue-health', swap: 'outerHTML'})"
    )
    expect(general.locator("[data-col=open]")).to_have_text("2")
    expect(page.locator("#queue-health")).to_have_count(1)
