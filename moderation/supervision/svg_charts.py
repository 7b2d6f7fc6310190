"""Horizontal bar charts as inline SVG, rendered on the server: no chart library, no CDN, and
they print and save with the page."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

ROW, LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH = 22, 220, 320, 70


def bar_chart(rows: list[tuple[str, float]], *, title: str, testid: str = "") -> SafeString:
    """One bar per (label, value), scaled to the largest value; labels and values as text too,
    so the chart reads without colour and to a screen reader (role="img" with a title)."""
    peak = max((value for _, value in rows), default=0) or 1
    height = ROW * max(len(rows), 1) + 4
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    bars = format_html_join(
        "",
        '<g transform="translate(0,{})"><text x="{}" y="15" text-anchor="end">{}</text>'
        '<rect x="{}" y="3" width="{}" height="16" fill="#4a6fa5"></rect>'
        '<text x="{}" y="15">{}</text></g>',
        (
            (
                i * ROW,
                LABEL_WIDTH - 8,
                label,
                LABEL_WIDTH,
                round(BAR_WIDTH * value / peak, 1),
                LABEL_WIDTH + round(BAR_WIDTH * value / peak, 1) + 6,
                value,
            )
            for i, (label, value) in enumerate(rows)
        ),
    )
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" data-testid="{}" viewBox="0 0 {} {}" '
        'width="{}" height="{}" font-size="12" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>{}</svg>",
        title,
        testid,
        width,
        height,
        width,
        height,
        title,
        bars,
    )
