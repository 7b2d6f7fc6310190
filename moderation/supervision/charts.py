"""Server-rendered bar charts for the supervisors' pages: no script, no chart library, no CDN,
and they print and save with the page.

- `paired_bars`: arrivals beside decisions over time (queue health); the SVG carries a title and
  a description, and the same figures are offered as a table beside it.
- `horizontal_bars`: one bar per labelled figure (the transparency report), drawn as a table in a
  captioned figure: labels and values are text that wraps rather than being cut off, and the
  chart reads without colour and to a screen reader as the figures themselves.
"""

from dataclasses import dataclass

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH = 480
HEIGHT = 120
TOP = 8  # room above the tallest bar
BOTTOM = 18  # room for the axis labels
SIDE = 20  # room left and right, so the first and last labels are not cut off


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    baseline: float
    peak: int
    arrivals: list[Bar]
    decisions: list[Bar]
    ticks: list[tuple[float, str]]  # (x, label) under the axis
    rows: list[tuple[str, int, int]]  # (label, arrivals, decisions) for the table

    @property
    def empty(self) -> bool:
        return self.peak == 0


def paired_bars(*, id: str, title: str, points: list[tuple[str, int, int]], every: int) -> Chart:
    """Paired bars (arrivals, decisions) per point; every `every`th point's label under the
    axis, the latest included."""
    n = max(len(points), 1)
    peak = max((max(a, d) for _, a, d in points), default=0)
    plot = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot
    slot = (WIDTH - 2 * SIDE) / n
    bar_w = max(slot / 2 - 1, 1)

    def bar(i: int, offset: float, value: int, label: str) -> Bar:
        h = plot * value / peak if peak else 0
        return Bar(
            x=round(SIDE + i * slot + offset, 2),
            y=round(baseline - h, 2),
            width=round(bar_w, 2),
            height=round(h, 2),
            value=value,
            label=label,
        )

    arrivals = [bar(i, 0.5, a, label) for i, (label, a, _) in enumerate(points)]
    decisions = [bar(i, 0.5 + slot / 2, d, label) for i, (label, _, d) in enumerate(points)]
    # Counted back from the latest point, so it is always labelled and labels never crowd.
    ticks = [
        (round(SIDE + i * slot + slot / 2, 2), label)
        for i, (label, _, _) in enumerate(points)
        if (n - 1 - i) % every == 0
    ]
    total_a = sum(a for _, a, _ in points)
    total_d = sum(d for _, _, d in points)
    if peak:
        desc = (
            f"{total_a} arrivals and {total_d} decisions from {points[0][0]} to {points[-1][0]}; "
            f"the busiest bar is {peak}."
        )
    else:
        desc = "No arrivals and no decisions in this period."
    return Chart(
        id=id,
        title=title,
        desc=desc,
        width=WIDTH,
        height=HEIGHT,
        baseline=baseline,
        peak=peak,
        arrivals=arrivals,
        decisions=decisions,
        ticks=ticks,
        rows=points,
    )


def queue_charts(row) -> tuple[Chart, Chart]:
    """The last 24 hours (hourly) and the last 30 days (daily) of one QueueHealth row."""
    slug = row.queue.slug
    hours = paired_bars(
        id=f"h24-{slug}",
        title=f"{row.queue.name}: arrivals and decisions per hour, last 24 hours (UTC)",
        points=[(f"{h:%H}:00", a, d) for h, a, d in row.hours],
        every=6,
    )
    days = paired_bars(
        id=f"d30-{slug}",
        title=f"{row.queue.name}: arrivals and decisions per day, last 30 days (UTC)",
        points=[(f"{d:%d %b}", a, d2) for d, a, d2 in row.days],
        every=7,
    )
    return hours, days


ARRIVALS_FILL = "#2f5bb7"
DECISIONS_FILL = "#1e6b3a"
MUTED = "#5b6475"


def chart_html(chart: Chart) -> SafeString:
    """The chart's <figure>: the SVG and the same figures as a table.

    Built with f-strings rather than a template: a page has twenty charts of up to sixty bars
    and a table each, and the template engine took most of a second over them."""
    e = escape
    cid = e(chart.id)
    out = [
        f'<figure class="chart" data-testid="chart" data-chart="{cid}" '
        f'style="margin: 0; flex: 1 1 {chart.width}px; max-width: {chart.width}px">',
        f'<svg viewBox="0 0 {chart.width} {chart.height}" width="100%" '
        f'style="max-width: {chart.width}px" role="img" '
        f'aria-labelledby="{cid}-t {cid}-d">',
        f'<title id="{cid}-t">{e(chart.title)}</title>',
        f'<desc id="{cid}-d">{e(chart.desc)}</desc>',
        f'<line x1="0" x2="{chart.width}" y1="{chart.baseline}" y2="{chart.baseline}" '
        f'stroke="#d9dde5"/>',
    ]
    if chart.empty:
        out.append(
            f'<text x="{chart.width / 2}" y="{chart.baseline / 2}" text-anchor="middle" '
            f'font-size="12" fill="{MUTED}">No arrivals or decisions</text>'
        )
    else:
        out.append(f'<text x="2" y="10" font-size="10" fill="{MUTED}">{chart.peak}</text>')
    for bars, fill, noun in (
        (chart.arrivals, ARRIVALS_FILL, "arrivals"),
        (chart.decisions, DECISIONS_FILL, "decisions"),
    ):
        out.extend(
            f'<rect x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}" fill="{fill}">'
            f"<title>{e(b.label)}: {b.value} {noun}</title></rect>"
            for b in bars
            if b.value
        )
    out.extend(
        f'<text x="{x}" y="{chart.height - 4}" text-anchor="middle" font-size="10" '
        f'fill="{MUTED}">{e(label)}</text>'
        for x, label in chart.ticks
    )
    out.append("</svg>")
    out.append(f'<figcaption class="small">{e(chart.title)}</figcaption>')
    out.append(
        '<details><summary class="small">The figures as a table</summary>'
        '<table class="grid small">'
        f'<caption class="muted small">{e(chart.title)}</caption>'
        '<thead><tr><th scope="col">Period</th><th scope="col" class="num">Arrivals</th>'
        '<th scope="col" class="num">Decisions</th></tr></thead><tbody>'
    )
    out.extend(
        f'<tr><th scope="row">{e(label)}</th><td class="num">{a}</td><td class="num">{d}</td></tr>'
        for label, a, d in chart.rows
    )
    out.append("</tbody></table></details></figure>")
    # Every interpolated text is escaped above; numbers are ours.
    return mark_safe("".join(out))  # noqa: S308


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def horizontal_bars(
    rows: list[tuple[str, float]],
    *,
    title: str,
    period: str,
    label_heading: str,
    value_heading: str,
    testid: str = "",
) -> SafeString:
    """One bar per (label, value), scaled to the largest value, in a <figure> whose caption says
    what it shows and over which period.

    The chart is a table (a row per label: the label, its bar and its value), so the labels are
    text that wraps in its column and is never cut off however long ("Image of me, taken when I
    was under 18" was clipped by an SVG's fixed label width), zooms with the page, and reads to a
    screen reader as the figures themselves. The bars are decoration beside the numbers."""
    peak = max((value for _, value in rows), default=0)
    total = sum(value for _, value in rows)
    caption_id = f"{testid or 'chart'}-caption"
    body = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td><div class="bar-row">'
        '<span class="bar" style="--share: {}" aria-hidden="true"></span>'
        '<span class="value">{}</span></div></td></tr>',
        ((label, round(value / peak, 4) if peak else 0, _number(value)) for label, value in rows),
    )
    if not rows:
        body = mark_safe('<tr><td colspan="2" class="muted">Nothing to show.</td></tr>')
    return format_html(
        '<figure class="hbars" data-testid="{}" aria-labelledby="{}">'
        '<figcaption id="{}"><strong>{}</strong>, {}. <span class="total">Total {}.</span>'
        "</figcaption>"
        '<table aria-labelledby="{}"><thead><tr><th scope="col">{}</th>'
        '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table></figure>',
        testid,
        caption_id,
        caption_id,
        title,
        period,
        _number(total),
        caption_id,
        label_heading,
        value_heading,
        body,
    )
