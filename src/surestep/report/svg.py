"""Inline SVG charts for the HTML report: step curves, grouped bars, a radar, line charts (one over log2 N).

Each function returns one ``<svg class="chart">`` element as text, with every data series drawn
as a ``<path>`` (so the browser test can check that something was drawn) and a legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
WIDTH, HEIGHT = 520, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 28, 40


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _frame(title: str, body: str, legend: Sequence[str], width: int = WIDTH, height: int = HEIGHT) -> str:
    items = "".join(
        f'<span class="key"><i style="background:{color(i)}"></i>{escape(name)}</span>'
        for i, name in enumerate(legend)
    )
    return (
        f'<figure class="chart-box"><figcaption>{escape(title)}</figcaption>'
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">{body}</svg><div class="legend">{items}</div></figure>'
    )


def _axes(x_ticks: Sequence[tuple[float, str]], y_label: str, x_label: str) -> str:
    """Axes on the unit square mapped to the plot area, with y gridlines every 0.2."""
    parts = []
    for i in range(6):
        y = i / 5
        py = _y(y)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py:.1f}" y2="{py:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{100 * y:.0f}</text>'
        )
    for value, label in x_ticks:
        px = _x(value)
        parts.append(
            f'<text class="tick" x="{px:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<text class="axis" x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    parts.append(f'<text class="axis" x="12" y="{TOP - 10}">{escape(y_label)}</text>')
    parts.append(f'<path class="frame" d="M{LEFT},{TOP} V{HEIGHT - BOTTOM} H{WIDTH - RIGHT}"/>')
    return "".join(parts)


def _x(value: float) -> float:
    return LEFT + value * (WIDTH - LEFT - RIGHT)


def _y(value: float) -> float:
    return HEIGHT - BOTTOM - value * (HEIGHT - TOP - BOTTOM)


def step_curves(
    title: str, series: Sequence[tuple[str, Sequence[float]]], greedy: Sequence[float | None]
) -> str:
    """G-Pass@k over tau: ``values[m-1]`` holds on ((m-1)/k, m/k]; Pass@k (m = 1) is marked at tau 0.

    ``greedy`` draws each run's greedy accuracy as a dashed line.
    """
    parts = [
        _axes([(t / 4, f"{t / 4:g}") for t in range(5)], "%", "τ (share of the k draws that must be right)")
    ]
    for i, (name, values) in enumerate(series):
        k = len(values)
        d = f"M{_x(0):.1f},{_y(values[0]):.1f}"
        for m, value in enumerate(values, start=1):
            d += f" V{_y(value):.1f} H{_x(m / k):.1f}"
        parts.append(
            f'<path class="series" d="{d}" stroke="{color(i)}" fill="none" stroke-width="2">'
            f"<title>{escape(name)}</title></path>"
        )
        parts.append(
            f'<circle cx="{_x(0):.1f}" cy="{_y(values[0]):.1f}" r="4" fill="{color(i)}">'
            f"<title>{escape(name)}: Pass@{k} = {100 * values[0]:.1f}%</title></circle>"
        )
        if i < len(greedy) and greedy[i] is not None:
            g = float(greedy[i])  # type: ignore[arg-type]
            parts.append(
                f'<path class="greedy" d="M{_x(0):.1f},{_y(g):.1f} H{_x(1):.1f}" stroke="{color(i)}" '
                f'stroke-dasharray="5 4" fill="none"><title>{escape(name)}: greedy {100 * g:.1f}%</title>'
                "</path>"
            )
    legend = [name for name, _ in series]
    return _frame(title, "".join(parts), legend)


def grouped_bars(
    title: str, groups: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], y_label: str = "%"
) -> str:
    """One group of bars per label, one bar per series (NaN bars are left out)."""
    slots = max(len(groups), 1)
    width = (WIDTH - LEFT - RIGHT) / slots
    bar = width * 0.8 / max(len(series), 1)
    parts = [_axes([((g + 0.5) / slots, label[:14]) for g, label in enumerate(groups)], y_label, "")]
    for s, (name, values) in enumerate(series):
        d = ""
        for g, value in enumerate(values):
            if value is None or not math.isfinite(value):
                continue
            x = LEFT + g * width + width * 0.1 + s * bar
            top = _y(max(0.0, min(1.0, value)))
            d += f"M{x:.1f},{_y(0):.1f} V{top:.1f} H{x + bar:.1f} V{_y(0):.1f} Z "
        parts.append(
            f'<path class="series" d="{d.strip()}" fill="{color(s)}"><title>{escape(name)}</title></path>'
        )
    return _frame(title, "".join(parts), [name for name, _ in series])


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], x_label: str
) -> str:
    """Points joined by lines over categorical x labels (gaps where a value is NaN)."""
    count = max(len(labels), 1)
    xs = [(i + 0.5) / count for i in range(count)]
    parts = [_axes(list(zip(xs, labels)), "%", x_label)]
    for s, (name, values) in enumerate(series):
        d, pen = "", "M"
        for x, value in zip(xs, values):
            if value is None or not math.isfinite(value):
                pen = "M"
                continue
            d += f"{pen}{_x(x):.1f},{_y(value):.1f} "
            pen = "L"
        parts.append(
            f'<path class="series" d="{d.strip()}" stroke="{color(s)}" fill="none" stroke-width="2">'
            f"<title>{escape(name)}</title></path>"
        )
    return _frame(title, "".join(parts), [name for name, _ in series])


def radar(title: str, axes: Sequence[str], series: Sequence[tuple[str, Mapping[str, float]]]) -> str:
    """One polygon per series over the axes (values in [0, 1]; a missing value sits at the centre)."""
    size = 360
    cx, cy, radius = size / 2, size / 2 + 6, size / 2 - 60
    count = len(axes)

    def point(axis: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * axis / count
        return cx + radius * value * math.cos(angle), cy + radius * value * math.sin(angle)

    parts = []
    for ring in (0.2, 0.4, 0.6, 0.8, 1.0):
        ring_d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in (point(a, ring) for a in range(count))) + " Z"
        parts.append(f'<path class="grid" d="{ring_d}" fill="none"/>')
    for a, label in enumerate(axes):
        x, y = point(a, 1.0)
        lx, ly = point(a, 1.17)
        parts.append(f'<line class="grid" x1="{cx:.1f}" y1="{cy:.1f}" x2="{x:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle">{escape(label)}</text>'
        )
    for s, (name, values) in enumerate(series):
        pts = []
        for a, key in enumerate(axes):
            value = values.get(key, float("nan"))
            pts.append(point(a, max(0.0, min(1.0, value)) if math.isfinite(value) else 0.0))
        d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + " Z"
        parts.append(
            f'<path class="series" d="{d}" stroke="{color(s)}" fill="{color(s)}" fill-opacity="0.12" '
            f'stroke-width="2"><title>{escape(name)}</title></path>'
        )
    return _frame(title, "".join(parts), [name for name, _ in series], size, size + 12)


def log2_lines(
    title: str, sizes: Sequence[int], series: Sequence[tuple[str, Sequence[float]]], x_label: str = "N (log₂)"
) -> str:
    """One line per series over sizes N placed by log2 N (1, 2, 4, ... evenly spaced); a point
    per value with its figure as a tooltip, gaps where a value is NaN."""
    logs = [math.log2(size) for size in sizes]
    low, high = (min(logs), max(logs)) if logs else (0.0, 1.0)
    span = high - low or 1.0
    xs = [0.04 + 0.92 * (value - low) / span for value in logs]
    parts = [_axes([(x, str(size)) for x, size in zip(xs, sizes)], "%", x_label)]
    for s, (name, values) in enumerate(series):
        d, pen, dots = "", "M", []
        for x, size, value in zip(xs, sizes, values):
            if value is None or not math.isfinite(value):
                pen = "M"
                continue
            d += f"{pen}{_x(x):.1f},{_y(value):.1f} "
            pen = "L"
            dots.append(
                f'<circle cx="{_x(x):.1f}" cy="{_y(value):.1f}" r="3" fill="{color(s)}">'
                f"<title>{escape(name)} @ N={size}: {100 * value:.1f}%</title></circle>"
            )
        parts.append(
            f'<path class="series" d="{d.strip()}" stroke="{color(s)}" fill="none" stroke-width="2">'
            f"<title>{escape(name)}</title></path>" + "".join(dots)
        )
    return _frame(title, "".join(parts), [name for name, _ in series])
