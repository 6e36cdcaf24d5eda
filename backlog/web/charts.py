"""Charts of the console as inline SVG, drawn on the server (no script in the browser).

Each chart has a <title> and a <desc> for screen readers, and the page shows
the same figures in a table beside it. Colours come from the console's CSS
(classes `bar`, `axis`, `value`), so they follow the organisation's brand.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

from markupsafe import Markup

FONT = 13
ROW = 30
BAR_WIDTH = 330
CHAR_WIDTH = 7.8


def _fit(text: str, width: float) -> str:
    """Cut `text` so it fits in `width` pixels (about), with an ellipsis."""
    most = max(3, int(width / CHAR_WIDTH))
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def horizontal_bars(title: str, description: str, rows: Sequence[tuple[str, int]]) -> Markup:
    """One bar per row (label, value): the label above its bar, the value at the bar's end.

    Labels sit on their own line so the chart stays narrow and readable on a phone.
    """
    if not rows:
        return Markup("")
    top = max(value for _, value in rows) or 1
    step = 46
    height = step * len(rows) + 6
    width = BAR_WIDTH + 60
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{_id(title)}-t {_id(title)}-d" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">{escape(description)}</desc>',
    ]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * step
        length = round(BAR_WIDTH * value / top, 1)
        parts.append(
            f'<text class="label" x="2" y="{y + 14}" font-size="{FONT + 1}">{escape(_fit(label, width - 4))}</text>'
        )
        parts.append(f'<rect class="bar" x="2" y="{y + 20}" width="{max(length, 1)}" height="18"/>')
        parts.append(
            f'<text class="value" x="{length + 8}" y="{y + 34}" font-size="{FONT + 1}">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def vertical_bars(title: str, description: str, columns: Sequence[tuple[str, int]]) -> Markup:
    """One column per (label, value), labels under the columns."""
    if not columns:
        return Markup("")
    top = max(value for _, value in columns) or 1
    step, plot = 34, 180
    width = step * len(columns) + 20
    height = plot + 60
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{_id(title)}-t {_id(title)}-d" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">{escape(description)}</desc>',
    ]
    base = plot + 20
    for index, (label, value) in enumerate(columns):
        x = 10 + index * step
        length = round(plot * value / top, 1)
        parts.append(
            f'<rect class="bar" x="{x + 4}" y="{base - max(length, 1)}" width="{step - 8}" height="{max(length, 1)}"/>'
        )
        parts.append(
            f'<text class="value" x="{x + step / 2}" y="{base - max(length, 1) - 6}" text-anchor="middle" '
            f'font-size="{FONT}">{value}</text>'
        )
        parts.append(
            f'<text class="label" x="{x + step / 2}" y="{base + 20}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    parts.append(f'<line class="axis" x1="10" y1="{base}" x2="{width - 10}" y2="{base}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _id(title: str) -> str:
    return "chart-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())[:40]
