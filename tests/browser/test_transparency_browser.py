"""The transparency report in a real browser (issue 17): each chart a captioned figure saying
what it shows and over which period, its labels whole at a desktop's, a laptop's and a phone's
width (an SVG's fixed label column used to cut "Image of me, taken when I was under 18" off), and
its figures a table a screen reader reads."""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from moderation.cases.services import case_claim_next
from moderation.review.services import case_decide

pytestmark = pytest.mark.browser

CHARTS = ("sources", "categories", "detection", "decisions", "actions")

# Each label, value and bar's box against its figure's, and whether a label's text overflows its
# own box (cut off by the figure's edge or by its cell).
MEASURE = """figure => {
  const f = figure.getBoundingClientRect();
  const inside = el => {
    const b = el.getBoundingClientRect();
    return b.left >= f.left - 0.5 && b.right <= f.right + 0.5
      && b.top >= f.top - 0.5 && b.bottom <= f.bottom + 0.5;
  };
  const parts = [...figure.querySelectorAll("tbody th, .value, .bar, figcaption")];
  return {
    outside: parts.filter(el => !inside(el)).map(el => el.textContent || el.className),
    overflowing: [...figure.querySelectorAll("tbody th")]
      .filter(th => th.scrollWidth > th.clientWidth + 1).map(th => th.textContent),
    labels: figure.querySelectorAll("tbody th").length,
  };
}"""


def test_each_chart_says_what_and_when_and_shows_its_labels_whole(
    page, log_in, make_user, submit_report
):
    rita = make_user("rita", Role.REVIEWER)
    make_user("supervisor1", Role.SUPERVISOR)
    for category in ("harassment", "spam", "spam"):
        submit_report(category=category)
    for action in ("warn", "remove"):
        case = case_claim_next(user=rita)
        case_decide(case_id=case.pk, user=rita, action=action, policy="harassment")
    # The longest label there is; left undecided (a child-safety case asks for more).
    submit_report(category="self_generated")

    log_in(page, "supervisor1")
    page.get_by_role("link", name="Transparency").click()
    page.get_by_label("From", exact=True).fill("2026-03-02")
    page.get_by_label("To (included)", exact=True).fill("2026-03-08")
    page.get_by_role("button", name="Show report").click()
    expect(page.get_by_test_id("transparency-period-text")).to_have_text(
        "Figures from 2 March 2026 to 8 March 2026 (UTC, both days included)."
    )
    # An empty week reads as one: every chart there, its total 0.
    for name in CHARTS:
        expect(page.get_by_test_id(f"chart-{name}").locator("figcaption")).to_contain_text(
            "Total 0."
        )

    page.goto("/supervise/transparency/")  # this month so far
    period = re.compile(r", (on|from) \d+ \w+ \d{4}.*\(UTC")
    for name in CHARTS:
        caption = page.get_by_test_id(f"chart-{name}").locator("figcaption")
        expect(caption).to_be_visible()
        expect(caption).to_contain_text(period)

    # Named by its caption, its figures a table: the label a row heading, the value beside it.
    figure = page.get_by_role("figure", name=re.compile(r"^Signals received, by category"))
    expect(figure).to_be_visible()
    table = figure.get_by_role("table", name=re.compile(r"^Signals received, by category"))
    row = table.get_by_role("row", name=re.compile(r"^Image of me, taken when I was under 18"))
    expect(row.get_by_role("rowheader")).to_have_text("Image of me, taken when I was under 18")
    expect(row.locator(".value")).to_have_text("1")
    spam = table.get_by_role("row", name=re.compile(r"^Spam or scam"))
    expect(spam.locator(".value")).to_have_text("2")
    decisions = page.get_by_test_id("chart-decisions")
    expect(decisions.get_by_role("row", name=re.compile(r"^Warn owner"))).to_contain_text("1")

    for width in (1440, 1024, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name in CHARTS:
            got = page.get_by_test_id(f"chart-{name}").evaluate(MEASURE)
            assert got["labels"] > 0, (width, name)
            assert got["outside"] == [], (width, name, got)
            assert got["overflowing"] == [], (width, name, got)
        # The full bar, beside its value, stays in its figure too.
        full = spam.locator(".bar").bounding_box()
        value = spam.locator(".value").bounding_box()
        assert full["width"] > 40 and full["x"] + full["width"] <= value["x"], (width, full)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (width, overflow)
