"""A log-log line plot as inline SVG (no script, no network): decade ticks on both axes, one polyline
per series, a legend. Used for the Taylor test's remainders along a random direction."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np

WIDTH, HEIGHT = 560, 300
LEFT, TOP, RIGHT, BOTTOM = 70, 40, 170, 50
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


@dataclass(frozen=True)
class Series:
    """One line (``markers_only``: dots, no line)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    markers_only: bool = False


def _decades(values: np.ndarray) -> tuple[int, int]:
    positive = values[np.isfinite(values) & (values > 0)]
    if not positive.size:
        return 0, 1
    low, high = math.floor(math.log10(positive.min())), math.ceil(math.log10(positive.max()))
    return low, max(high, low + 1)


def _axes(xs: tuple[int, int], ys: tuple[int, int], titles: tuple[str, str]) -> list[str]:
    out = [f"<rect x='{LEFT}' y='{TOP}' width='{WIDTH}' height='{HEIGHT}' fill='none' stroke='#999'/>"]
    every_x = max(1, (xs[1] - xs[0]) // 8)
    for k in range(xs[0], xs[1] + 1, every_x):
        x = LEFT + (k - xs[0]) / (xs[1] - xs[0]) * WIDTH
        out.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{TOP}' y2='{TOP + HEIGHT}' stroke='#eee'/>")
        out.append(f"<text x='{x:.1f}' y='{TOP + HEIGHT + 16}' text-anchor='middle'>1e{k}</text>")
    every_y = max(1, (ys[1] - ys[0]) // 6)
    for k in range(ys[0], ys[1] + 1, every_y):
        y = TOP + HEIGHT - (k - ys[0]) / (ys[1] - ys[0]) * HEIGHT
        out.append(f"<line x1='{LEFT}' x2='{LEFT + WIDTH}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eee'/>")
        out.append(f"<text x='{LEFT - 6}' y='{y + 4:.1f}' text-anchor='end'>1e{k}</text>")
    out.append(
        f"<text x='{LEFT + WIDTH / 2}' y='{TOP + HEIGHT + 36}' text-anchor='middle'>{html.escape(titles[0])}</text>"
    )
    out.append(
        f"<text transform='translate(14,{TOP + HEIGHT / 2}) rotate(-90)' text-anchor='middle'>"
        f"{html.escape(titles[1])}</text>"
    )
    return out


def loglog(series: list[Series], title: str, titles: tuple[str, str]) -> str:
    """The series on log-log axes, as one ``<svg>`` element (non-positive values are left out)."""
    xs = _decades(np.concatenate([s.x for s in series]))
    ys = _decades(np.concatenate([s.y for s in series]))
    parts = [f"<text x='0' y='16' font-weight='bold'>{html.escape(title)}</text>", *_axes(xs, ys, titles)]
    for i, line in enumerate(series):
        keep = np.isfinite(line.x) & np.isfinite(line.y) & (line.x > 0) & (line.y > 0)
        px = LEFT + (np.log10(line.x[keep]) - xs[0]) / (xs[1] - xs[0]) * WIDTH
        py = TOP + HEIGHT - (np.log10(line.y[keep]) - ys[0]) / (ys[1] - ys[0]) * HEIGHT
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))
        if not line.markers_only:
            parts.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.5'/>")
        radius = 5 if line.markers_only else 2.5
        parts += [f"<circle cx='{a:.1f}' cy='{b:.1f}' r='{radius}' fill='{colour}'/>" for a, b in zip(px, py)]
        y = TOP + 10 + 18 * i
        parts.append(f"<rect x='{LEFT + WIDTH + 12}' y='{y - 8}' width='10' height='10' fill='{colour}'/>")
        parts.append(f"<text x='{LEFT + WIDTH + 28}' y='{y + 1}'>{html.escape(line.name)}</text>")
    size = f"width='{LEFT + WIDTH + RIGHT}' height='{TOP + HEIGHT + BOTTOM}'"
    return f"<svg class='plot' {size} font-size='12' font-family='sans-serif'>{''.join(parts)}</svg>"
