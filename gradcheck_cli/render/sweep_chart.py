"""Drawing a :class:`~gradcheck_cli.report.Sweep` in the terminal: a log-log chart and a table. Render-only."""

from __future__ import annotations

import math

import numpy as np
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradcheck_cli.report import Sweep

MARKS = {"forward": "f", "central": "c", "taylor": "t"}
STYLES = {"forward": "yellow", "central": "cyan", "taylor": "magenta"}
FLOOR = 1e-18


def _log(value: float) -> float:
    return math.log10(max(value, FLOOR))


def _column(sweep: Sweep, step: float) -> int:
    return int(np.argmin(np.abs(np.log10(sweep.steps) - math.log10(step))))


def chart(sweep: Sweep, width: int = 3) -> Text:
    """Error (y, log, one row per decade) against step (x, log, large steps left); ``f`` forward,
    ``c`` central, ``*`` both; ``|`` the steps the checker chose."""
    logs = {m: [_log(e) for e in errors] for m, errors in sweep.errors.items()}
    top = math.ceil(max(max(v) for v in logs.values()))
    bottom = math.floor(min(min(v) for v in logs.values()))
    height = max(2, top - bottom + 1)
    grid = [[" "] * (len(sweep.steps) * width) for _ in range(height)]
    chosen = {_column(sweep, step): m for m, step in sweep.chosen.items()}
    for column in chosen:
        for row in grid:
            row[column * width + width // 2] = "|"
    for method, values in logs.items():
        for s, value in enumerate(values):
            r = min(height - 1, max(0, round(top - value)))
            cell = grid[r][s * width + width // 2]
            grid[r][s * width + width // 2] = "*" if cell in MARKS.values() else MARKS[method]
    text = Text()
    for r, row in enumerate(grid):
        text.append(f"{'1e' + str(top - r):>8} ")
        text.append("|")
        for char in row:
            style = next((STYLES[m] for m, c in MARKS.items() if c == char), "dim" if char == "|" else "")
            text.append(char, style=style)
        text.append("\n")
    text.append(" " * 9 + "+" + "-" * (len(sweep.steps) * width) + "\n")
    axis = [" "] * (len(sweep.steps) * width + 8)
    for s, step in enumerate(sweep.steps):
        exponent = math.log10(step)
        if abs(exponent - round(exponent)) < 1e-9 and round(exponent) % 2 == 0:
            label = f"1e{round(exponent)}"
            for k, ch in enumerate(label):
                axis[s * width + k] = ch
    marks = [" "] * (len(sweep.steps) * width)
    for column in chosen:
        marks[column * width + width // 2] = "^"
    text.append(" " * 10 + "".join(axis).rstrip() + "   step h\n")
    text.append(" " * 10 + "".join(marks).rstrip() + "\n")
    names = ", ".join(f"{m} {sweep.chosen[m]:.3g}" for m in sweep.chosen)
    if names:
        text.append(f"{' ' * 10}^ | the steps the checker chose ({names}); f forward, c central, * both")
    return text


def taylor_chart(sweep: Sweep) -> RenderableType:
    """The Taylor remainder ``|f(x + eps v) - f(x) - eps J v|`` against ``eps`` and its fitted slope."""
    curve = sweep.taylor
    if curve is None:
        return Text("")
    unit = float(curve.eps[0]) / 10**-0.5  # the grid is 10**-0.5 ... 10**-12 times max(1, |x|)
    steps = Sweep(curve.eps / unit, {"taylor": np.maximum(curve.remainder, FLOOR)}, {}, "", "", "", 1.0)
    slope = (
        "no step rose above the noise floor" if math.isnan(curve.slope) else f"fitted slope {curve.slope:.2f}"
    )
    title = Text(
        f"Taylor test beside it: |f(x+eps v) - f(x) - eps J v| against eps along a random direction v "
        f"(falls like eps**2 for a right gradient, like eps for a wrong one; eps in units of {unit:.3g}): "
        f"{slope}, {curve.verdict}",
        style="bold",
    )
    return Group(title, chart(steps, width=2))


def table(sweep: Sweep, ascii: bool = False) -> Table:
    out = Table(box=box.ASCII if ascii else box.SIMPLE, show_edge=not ascii)
    out.add_column("step h", justify="right")
    for method in sweep.errors:
        out.add_column(f"{method} error", justify="right")
    out.add_column("")
    chosen = {}
    for method, step in sweep.chosen.items():
        chosen.setdefault(_column(sweep, step), []).append(method)
    for s, step in enumerate(sweep.steps):
        note = ", ".join(f"<- {m} chosen ({sweep.chosen[m]:.3g})" for m in chosen.get(s, []))
        out.add_row(f"{step:.3g}", *(f"{sweep.errors[m][s]:.2e}" for m in sweep.errors), note)
    return out


def render(sweep: Sweep, target: str, ascii: bool = False) -> RenderableType:
    computed = f" (computed in {sweep.reference_dtype})" if sweep.reference_dtype != sweep.dtype else ""
    title = Text(
        f"{target}: finite-difference error against step, relative to the largest derivative "
        f"{sweep.scale:.3g}; reference: {sweep.reference}{computed}",
        style="bold",
    )
    best = ", ".join(f"{m} {sweep.best(m):.3g}" for m in sweep.errors)
    return Group(
        title,
        chart(sweep),
        Text(""),
        table(sweep, ascii),
        Text(f"smallest error at: {best}"),
        Text(""),
        taylor_chart(sweep),
    )
