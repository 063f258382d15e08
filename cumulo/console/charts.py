"""Charts drawn on the server as SVG: a metric's values over a time range, and sparklines for tables.

No script and nothing fetched: a chart is markup in the page, readable without colour (each series
has its own dash pattern and a legend) and by a screen reader (``role="img"`` with a label that
says what a sighted reader would take from it: each series' total or peak and its latest value).
Values are one per period, ``None`` where the period has no data point: a line breaks there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from cumulo.console.html import Safe, join, render

__all__ = ["Series", "chart", "sparkline", "nice_max", "compact"]

WIDTH, HEIGHT = 640, 170              # a chart's drawing, in its own units (it scales with the page)
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 10, 26
SPARK_W, SPARK_H = 96, 22
_DASHES = ("", "6 3", "2 3", "9 3 2 3")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]     # one per period, oldest first
    summed: bool = True                # a count (its label gives the total) or a level (its peak)


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (1 for nothing to show)."""
    if not value > 1e-300 or not math.isfinite(value):     # nothing, or too small to scale by
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def compact(value: float) -> str:
    """A number as an axis or a label shows it: 950, 1.2k, 3.4M, 0.25."""
    if not math.isfinite(value):
        return "—"
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if size < 1000 else f"{value:.0f}"


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The stretches of consecutive values with data: a line is drawn through each."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, v))
    if current:
        runs.append(current)
    return runs


def _path(values: Sequence[float | None], x0: float, width: float, y0: float, height: float, top: float) -> str:
    """SVG path data for ``values`` scaled into the box; a lone point is a short flat stroke."""
    step = width / max(len(values) - 1, 1)
    parts = []
    for run in _runs(values):
        points = [(x0 + i * step, y0 + height - min(max(v, 0.0), top) / top * height) for i, v in run]
        if len(points) == 1:
            x, y = points[0]
            points = [(max(x - 3, x0), y), (min(x + 3, x0 + width), y)]
        parts.append("M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in points))
    return " ".join(parts)


def _describe(s: Series, unit: str) -> str:
    seen = _finite(s.values)
    if not seen:
        return f"{s.name}: no data"
    latest = next(v for v in reversed(s.values) if v is not None and math.isfinite(v))
    head = f"total {compact(sum(seen))}" if s.summed else f"peak {compact(max(seen))}"
    return f"{s.name}: {head}{unit}, latest {compact(latest)}{unit}"


def _clock(ts: float, span_s: float) -> str:
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return moment.strftime("%H:%M" if span_s <= 86_400 else "%b %d %H:%M")


def chart(title: str, series: Sequence[Series], start: float, period: int, unit: str = "") -> Safe:
    """A line chart of ``series`` (equal lengths), the first value at ``start``, one per ``period`` s."""
    count = max((len(s.values) for s in series), default=0)
    top = nice_max(max((v for s in series for v in _finite(s.values)), default=0.0))
    suffix = f" {unit}" if unit else ""
    label = f"{title}. " + "; ".join(_describe(s, suffix) for s in series) + "."
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    grid = join(render('<line class="grid" x1="{a}" y1="{y}" x2="{b}" y2="{y}"/>'
                       '<text class="axis" x="{t}" y="{ty}" text-anchor="end">{v}</text>',
                       a=LEFT, b=WIDTH - RIGHT, y=f"{TOP + plot_h * (1 - f):.1f}", t=LEFT - 6,
                       ty=f"{TOP + plot_h * (1 - f) + 4:.1f}", v=compact(top * f)) for f in (0.0, 0.5, 1.0))
    span = period * max(count - 1, 1)
    ticks = join(render('<text class="axis" x="{x}" y="{y}" text-anchor="{anchor}">{t}</text>',
                        x=f"{LEFT + plot_w * f:.1f}", y=HEIGHT - 8, anchor=anchor, t=_clock(start + span * f, span))
                 for f, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")))
    lines = join(render('<path class="line s{i}" d="{d}" stroke-dasharray="{dash}"><title>{name}</title></path>',
                        i=i % len(_DASHES), d=_path(s.values, LEFT, plot_w, TOP, plot_h, top) or "M0 0",
                        dash=_DASHES[i % len(_DASHES)], name=s.name) for i, s in enumerate(series))
    legend = join(render('<li><svg width="22" height="8" aria-hidden="true"><path class="line s{i}" d="M1 4 L21 4" '
                         'stroke-dasharray="{dash}"/></svg>{text}</li>', i=i % len(_DASHES),
                         dash=_DASHES[i % len(_DASHES)], text=_describe(s, suffix)) for i, s in enumerate(series))
    empty = Safe("") if any(_finite(s.values) for s in series) else render(
        '<text class="axis" x="{x}" y="{y}" text-anchor="middle">No data in this range</text>',
        x=LEFT + plot_w // 2, y=TOP + plot_h // 2)
    return render('<figure class="chart"><figcaption>{title}</figcaption>'
                  '<svg viewBox="0 0 {w} {h}" role="img" aria-label="{label}" class="chart-svg">{grid}{ticks}'
                  '{lines}{empty}</svg><ul class="legend">{legend}</ul></figure>',
                  title=title, w=WIDTH, h=HEIGHT, label=label, grid=grid, ticks=ticks, lines=lines, empty=empty,
                  legend=legend)


def sparkline(values: Sequence[float | None], label: str, unit: str = "", summed: bool = False) -> Safe:
    """A small line for a table cell, labelled for a screen reader (and a tooltip)."""
    text = _describe(Series(label, values, summed), f" {unit}" if unit else "")
    top = nice_max(max(_finite(values), default=0.0))
    return render('<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}">'
                  '<title>{t}</title><path class="line" d="{d}"/></svg>',
                  w=SPARK_W, h=SPARK_H, t=text, d=_path(values, 1, SPARK_W - 2, 2, SPARK_H - 4, top) or "M0 0")
