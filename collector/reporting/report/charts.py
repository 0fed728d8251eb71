"""Charts as inline SVG text: a line chart over days, columns, and horizontal bars.

Made in Python, so a report bundles no chart library and loads nothing: the
page is the whole of it. Every chart is one ``<svg class="chart">`` whose
``data-points`` says how many values it draws, each drawn as one element of
class ``point`` carrying ``data-x`` and ``data-value`` (and a ``<title>``,
the browser's own tooltip). Tests read the rendered DOM by these.

A line chart has a point for each day with a value and breaks its line where
a day is missing: a gap is drawn as a gap, never as a zero. Scales start at
zero (or at the smallest value, if negative) and end at a round number.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Final

__all__ = ["PALETTE", "bar_chart", "column_chart", "line_chart", "number"]

Number = int | float

# Colour-blind-safe (Okabe-Ito), in the order series take them.
PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")

_W: Final = 720  # viewBox width; the page scales it to the column
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 14, 28


def number(value: Number) -> str:
    """A figure as people read it: thousands separated, at most one decimal."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _scale(values: Sequence[Number]) -> tuple[float, float]:
    """A value axis from min(0, lowest) to a round number at or above the highest."""
    low = min(0.0, *values) if values else 0.0
    high = max(0.0, *values) if values else 1.0
    if high <= low:
        high = low + 1
    step = 10 ** math.floor(math.log10(high - low))
    for factor in (1, 2, 2.5, 5, 10):
        if (high - low) / (step * factor) <= 5:
            step *= factor
            break
    return low, math.ceil(high / step) * step if high > 0 else 0.0


def _frame(title: str, points: int, height: int, body: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" data-points="{points}" '
        f'viewBox="0 0 {_W} {height}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _value_axis(low: float, high: float, y: Callable[[float], float], width: int) -> list[str]:
    """Horizontal grid lines with their labels: low, middle, high (and zero)."""
    ticks = sorted({low, (low + high) / 2, high, 0.0} if low < 0 else {low, (low + high) / 2, high})
    out = []
    for tick in ticks:
        at = y(tick)
        out.append(
            f'<line class="grid" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{at:.1f}" y2="{at:.1f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{at + 4:.1f}" text-anchor="end">'
            f"{number(round(tick, 1))}</text>"
        )
    return out


def line_chart(
    title: str, days: Sequence[dt.date], series: Sequence[tuple[str, Mapping[dt.date, Number]]]
) -> str:
    """Lines over ``days``, one per (name, values by day); a point per day with a value."""
    height = 240
    shown = set(days)
    values = [v for _name, by_day in series for d, v in by_day.items() if d in shown]
    low, high = _scale(values)
    span = max(1, len(days) - 1)
    plot_w, plot_h = _W - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + plot_w * (i / span if len(days) > 1 else 0.5)

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - (v - low) / (high - low))

    body = _value_axis(low, high, y, _W)
    for i in sorted({0, len(days) // 2, len(days) - 1}) if days else ():
        anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
        body.append(
            f'<text class="tick" x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}">'
            f"{days[i]:%b %d}</text>"
        )
    count = 0
    for n, (name, by_day) in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for i, day in enumerate(days):
            if day not in by_day:
                runs.append([])  # a missing day breaks the line
                continue
            runs[-1].append(f"{x(i):.1f},{y(by_day[day]):.1f}")
        for run in runs:
            if len(run) > 1:
                body.append(
                    f'<polyline class="line" fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(run)}"/>'
                )
        for i, day in enumerate(days):
            if day in by_day:
                count += 1
                value = by_day[day]
                body.append(
                    f'<circle class="point" data-series="{escape(name)}" data-x="{day}" '
                    f'data-value="{value}" cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" '
                    f'fill="{colour}"><title>{escape(name)} {day:%b %d}: {number(value)}'
                    "</title></circle>"
                )
    return _frame(title, count, height, body)


def column_chart(
    title: str, columns: Sequence[tuple[str, str, Number | None]], *, colour: str = ""
) -> str:
    """Vertical bars, one per (x, label, value), left to right: ``x`` is the point's
    ``data-x``, ``label`` its tick. A ``None`` value leaves its slot empty (a missing day
    is not a zero). Ticks are thinned to about 16."""
    height = 220
    low, high = _scale([v for _x, _label, v in columns if v is not None])
    plot_w, plot_h = _W - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    slot = plot_w / max(1, len(columns))
    every = max(1, math.ceil(len(columns) / 16))

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - (v - low) / (high - low))

    body = _value_axis(low, high, y, _W)
    count = 0
    for i, (x, label, value) in enumerate(columns):
        left = _LEFT + slot * i + slot * 0.15
        if i % every == 0:
            body.append(
                f'<text class="tick" x="{left + slot * 0.35:.1f}" y="{height - 8}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
        if value is None:
            continue
        count += 1
        top, bottom = sorted((y(value), y(0.0)))
        body.append(
            f'<rect class="point" data-x="{escape(x)}" data-value="{value}" '
            f'x="{left:.1f}" y="{top:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{max(bottom - top, 0.5):.1f}" fill="{colour or PALETTE[0]}">'
            f"<title>{escape(label)}: {number(value)}</title></rect>"
        )
    return _frame(title, count, height, body)


def bar_chart(title: str, bars: Sequence[tuple[str, Number]]) -> str:
    """Horizontal bars, one per (label, value), top to bottom, the value beside each."""
    row, label_w = 22, 210
    height = _TOP + row * max(1, len(bars)) + 8
    high = max([0.0, *(v for _label, v in bars)]) or 1.0
    plot_w = _W - label_w - 90
    body = []
    for i, (label, value) in enumerate(bars):
        top = _TOP + row * i
        width = plot_w * max(0.0, value) / high
        body.append(
            f'<text class="tick" x="{label_w - 8}" y="{top + 15}" text-anchor="end">'
            f"{escape(label[:34])}</text>"
            f'<rect class="point" data-x="{escape(label)}" data-value="{value}" x="{label_w}" '
            f'y="{top + 3}" width="{max(width, 0.5):.1f}" height="{row - 6}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {number(value)}</title></rect>'
            f'<text class="tick" x="{label_w + width + 6:.1f}" y="{top + 15}">{number(value)}</text>'
        )
    return _frame(title, len(bars), height, body)
