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
TEXT = "#1d2430"
GRID = "#c4cbd4"


@dataclass
class Series:
    label: str
    values: list[float | None]


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _num(value: float) -> str:
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


def line_chart(
    chart_id: str,
    title: str,
    summary: str,
    days: list[date],
    series: list[Series],
    *,
    width: int = 640,
    height: int = 200,
) -> SafeString:
    """One line per series over `days`; a None value breaks its line (not known that day)."""
    left, right, top, bottom = 52, 12, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for s in series for v in s.values if v is not None]
    floor = 0.0
    top_value = _nice_max(max(known, default=0))
    if known and min(known) > top_value / 2 and max(known) > 1000:  # balances: show the change
        floor = min(known) - (max(known) - min(known)) * 0.1
        top_value = max(known) + (max(known) - min(known)) * 0.1 or floor + 1
    span = (top_value - floor) or 1
    n = max(1, len(days) - 1)

    def x(i: int) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - floor) / span)

    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" focusable="false">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(summary)}</desc>',
    ]
    for k in range(5):
        value = floor + span * k / 4
        gy = y(value)
        parts.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{TEXT}">{escape(_num(value))}</text>'
        )
    if days:
        ticks = sorted({0, len(days) // 2, len(days) - 1})
        for i in ticks:
            anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 6}" text-anchor="{anchor}" font-size="12" '
                f'fill="{TEXT}">{escape(_day(days[i]))}</text>'
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
            if len(points) == 1:
                cx, cy = points[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
            elif points:
                parts.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.5" stroke-linejoin="round"{dash_attr}/>'
                )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def bar_chart(
    chart_id: str, title: str, summary: str, bars: list[tuple[str, int]], *, width: int = 640
) -> SafeString:
    """Horizontal bars, one per (label, value), the value written at the end of each."""
    row, label_w, right = 30, 170, 56
    height = row * len(bars) + 8
    top_value = _nice_max(max((v for _, v in bars), default=0))
    plot_w = width - label_w - right
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" focusable="false">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(summary)}</desc>',
    ]
    colour = STYLES[2][0]
    for i, (label, value) in enumerate(bars):
        y = 4 + i * row
        w = plot_w * value / top_value
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" font-size="13" '
            f'fill="{TEXT}">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 10}" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 19}" font-size="13" '
            f'fill="{TEXT}">{escape(_num(value))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def sparkline(values: list[int], label: str, *, width: int = 96, height: int = 24) -> SafeString:
    """A tiny line of daily counts; `label` says what it shows (its accessible name)."""
    top_value = max(values, default=0) or 1
    n = max(1, len(values) - 1)
    points = " ".join(
        f"{1 + (width - 2) * i / n:.1f},{height - 2 - (height - 4) * v / top_value:.1f}"
        for i, v in enumerate(values)
    )
    return mark_safe(  # noqa: S308 - the label is escaped, the rest are numbers
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" focusable="false">'
        f'<line x1="0" y1="{height - 1}" x2="{width}" y2="{height - 1}" stroke="{GRID}"/>'
        f'<polyline points="{points}" fill="none" stroke="{STYLES[0][0]}" stroke-width="1.5"/>'
        "</svg>"
    )
