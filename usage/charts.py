"""Server-rendered SVG charts: lines over days, horizontal bars, sparklines.

No JavaScript and no library: each chart is an inline <svg role="img"> named by its <title>
and summed up in its <desc>; the page puts a table with every figure behind it (a
<details>), so nothing is only in the picture. Colours are the portal's own (each at least
4.5:1 on white) and every series also has its own dash pattern, so none is told apart by
colour alone. Labels are translated by the caller; dates are formatted in the reader's
language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.formats import date_format, number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# (stroke colour, dash pattern): blue solid, brown dashed, red dotted.
STYLES = [("#0b5cab", ""), ("#8a5a00", "7 4"), ("#b3261e", "2 3"), ("#1f7a3a", "10 3 2 3")]
GRID = "#c4cbd4"


@dataclass
class Series:
    label: str
    values: list[float | None]


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above `value` (at least 1): halves stay whole."""
    if value <= 1:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _num(value: float, *, exact: bool = False) -> str:
    if exact:
        return number_format(round(value), force_grouping=True)
    if abs(value) >= 1_000_000:
        return number_format(round(value / 1_000_000, 1)) + "M"
    if abs(value) >= 10_000:
        return number_format(round(value / 1000)) + "k"
    return number_format(round(value, 1) if value % 1 else int(value))


def _day(d: date) -> str:
    return date_format(d, "j M")


def style_of(index: int) -> tuple[str, str]:
    return STYLES[index % len(STYLES)]


def legend_swatch(index: int) -> SafeString:
    colour, dash = style_of(index)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return mark_safe(  # noqa: S308 - built from constants only
        f'<svg class="swatch" width="28" height="10" viewBox="0 0 28 10" aria-hidden="true" '
        f'focusable="false"><line x1="1" y1="5" x2="27" y2="5" stroke="{colour}" '
        f'stroke-width="3"{dash_attr}/></svg>'
    )


def _axis(labels: list[str], css: str) -> str:
    # The axis labels are HTML, not SVG text: a checker (and a reader's high-contrast mode)
    # can tell their colour against the page. The figures themselves are in the table.
    spans = "".join(f"<span>{escape(label)}</span>" for label in labels)
    return f'<div class="{css}" aria-hidden="true">{spans}</div>'


def line_chart(
    chart_id: str,
    title: str,
    summary: str,
    days: list[date],
    series: list[Series],
    *,
    width: int = 640,
    height: int = 180,
) -> SafeString:
    """One line per series over `days`; a None value breaks its line (not known that day).
    The y axis runs from 0 (or, for large balances that barely move, from near their lowest)
    to a round maximum; gridlines at the bottom, the middle and the top."""
    pad = 4
    plot_h = height - 2 * pad
    known = [v for s in series for v in s.values if v is not None]
    floor, top_value = 0.0, _nice_max(max(known, default=0))
    low, high = min(known, default=0), max(known, default=0)
    if known and high > 1000 and low > top_value / 2:  # balances: show the change
        margin = (high - low) * 0.1 or high * 0.01
        floor, top_value = low - margin, high + margin
    span = (top_value - floor) or 1
    n = max(1, len(days) - 1)

    def x(i: int) -> float:
        return width * i / n

    def y(v: float) -> float:
        return pad + plot_h * (1 - (v - floor) / span)

    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" focusable="false">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(summary)}</desc>',
    ]
    for k in range(3):
        gy = y(floor + span * k / 2)
        parts.append(
            f'<line x1="0" y1="{gy:.1f}" x2="{width}" y2="{gy:.1f}" stroke="{GRID}" '
            'stroke-width="1" vector-effect="non-scaling-stroke"/>'
        )
    for index, s in enumerate(series):
        colour, dash = style_of(index)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        segment: list[str] = []
        segments: list[list[str]] = [segment]
        for i, v in enumerate(s.values):
            if v is None:
                segment = []
                segments.append(segment)
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
        for points in segments:
            if len(points) == 1:  # a lone known day: a short tick
                px, py = points[0].split(",")
                points = [f"{max(0.0, float(px) - 3):.1f},{py}", f"{float(px) + 3:.1f},{py}"]
            if points:
                parts.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.5" stroke-linejoin="round" '
                    f'vector-effect="non-scaling-stroke"{dash_attr}/>'
                )
    parts.append("</svg>")
    y_labels = [_num(floor + span * k / 2, exact=bool(floor)) for k in (2, 1, 0)]
    x_labels = [_day(days[i]) for i in sorted({0, len(days) // 2, len(days) - 1})] if days else []
    return mark_safe(  # noqa: S308 - every text is escaped
        '<div class="plot">'
        + _axis(y_labels, "y-axis")
        + "".join(parts)
        + "</div>"
        + _axis(x_labels, "x-axis")
    )


def bar_rows(bars: list[tuple[str, int, str]], *, width: int = 200) -> SafeString:
    """Horizontal bars as a list: each (label, value, link) is a link, its bar and its value
    in HTML text; the bar itself is decoration."""
    top_value = _nice_max(max((v for _, v, _u in bars), default=0))
    colour = STYLES[2][0]
    items = []
    for label, value, url in bars:
        w = width * value / top_value
        items.append(
            f'<li><a href="{escape(url)}">{escape(label)}</a>'
            f'<svg class="bar" viewBox="0 0 {width} 12" preserveAspectRatio="none" '
            f'aria-hidden="true" focusable="false"><rect x="0" y="0" width="{max(w, 1):.1f}" '
            f'height="12" fill="{colour}"/></svg>'
            f'<span class="num">{escape(_num(value))}</span></li>'
        )
    return mark_safe(f'<ul class="bars">{"".join(items)}</ul>')  # noqa: S308 - escaped


SPARK_WIDTH, SPARK_HEIGHT = 96, 24


def sparkline_points(values: list[int]) -> str:
    """The polyline of a sparkline of daily counts (what usage.sparklines stores)."""
    top_value = max(values, default=0) or 1
    n = max(1, len(values) - 1)
    w, h = SPARK_WIDTH, SPARK_HEIGHT
    return " ".join(
        f"{1 + (w - 2) * i / n:.1f},{h - 2 - (h - 4) * v / top_value:.1f}"
        for i, v in enumerate(values)
    )


def sparkline(values: list[int], label: str) -> SafeString:
    """A tiny line of daily counts; `label` says what it shows (its accessible name)."""
    return sparkline_svg(sparkline_points(values), label)


def sparkline_svg(points: str, label: str) -> SafeString:
    """A sparkline around its polyline's points (sparkline_points)."""
    w, h = SPARK_WIDTH, SPARK_HEIGHT
    return mark_safe(  # noqa: S308 - the label is escaped, the rest are numbers
        f'<svg class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'role="img" aria-label="{escape(label)}" focusable="false">'
        f'<line x1="0" y1="{h - 1}" x2="{w}" y2="{h - 1}" stroke="{GRID}"/>'
        f'<polyline points="{points}" fill="none" stroke="{STYLES[0][0]}" stroke-width="1.5"/>'
        "</svg>"
    )
