"""The HTML renderer: one self-contained page (inline SVG and PNG, no script, no network at view time).

Per target and point: the verdict table (worst entries first), the diagnosis lines, the blame tree, a
heat-map of ``|autograd - reference| / tolerance`` per Jacobian block (:mod:`~gradcheck_cli.render.heatmap`:
max-pooled to at most 200 cells a side, every column and row holding a failing entry marked in a strip
beside the map) and the Taylor plot along the point's random direction. Render-only; needs nothing
beyond numpy.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from gradcheck_cli.render.diagnosis_text import diagnosis_lines
from gradcheck_cli.render.heatmap import Map, svg
from gradcheck_cli.render.lineplot import Series, loglog
from gradcheck_cli.render.text import error, number, select
from gradcheck_cli.report import PointLabel, Report, TargetReport
from gradcheck_cli.result import STATUSES, Blame, Block, CheckResult, TaylorCurve

MAX_BLOCKS = 24
"""Heat-maps per point, failing blocks first."""
STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 6px;font-family:monospace;text-align:right}
.PASS{color:#080}.FAIL,.ERROR{color:#c00;font-weight:bold}.INCONCLUSIVE,.NOT.VERIFIED{color:#a60}
svg{display:block;margin:1em 0}"""


def block_id(target: int, point: int, block: int) -> str:
    """The id of a block's heat-map ``<div>``."""
    return f"heatmap-{target}-{point}-{block}"


def heatmap(block: Block, result: CheckResult, div_id: str) -> str:
    """A block's heat-map of ``|autograd - reference| / tolerance`` (1 is the tolerance), its failing
    columns and rows marked beside it."""
    failing_codes = [code for code, status in enumerate(STATUSES) if result.failing(status)]
    verdict = "PASS" if result.passes(block) else "FAIL"
    heat = Map(
        excess=block.excess,
        failing=np.isin(block.status, failing_codes),
        labels=block.labels(),
        names=(block.output_name, block.input_name),
        title=f"d {block.output_name} / d {block.input_name} ({block.mode}): {verdict}",
        shapes=(block.output_shape, block.input_shape),
    )
    return f"<div class='block {verdict}' id='{div_id}'>{svg(heat)}</div>"


def curves(curve: TaylorCurve, div_id: str) -> str:
    """The Taylor remainder and the forward difference's error along the point's random direction."""
    series = [Series("Taylor remainder", curve.eps, curve.remainder)]
    if curve.difference_error is not None:
        series.append(Series("forward FD error", curve.eps, curve.difference_error))
    series.append(Series("fitted", curve.eps[curve.used], curve.remainder[curve.used], markers_only=True))
    title = f"along a random direction: Taylor slope {curve.slope:.2f} (2 right, 1 wrong)"
    plot = loglog(series, title, ("step eps", "remainder / error"))
    return f"<div class='taylor' id='{div_id}'>{plot}</div>"


def verdict_table(result: CheckResult, digits: int, max_rows: int) -> str:
    """The worst entries of a point."""
    head = "<tr><th>output</th><th>input</th><th>autograd</th><th>reference</th><th>abs err</th><th>tol</th><th>status</th></tr>"
    rows = [
        f"<tr><td>{html.escape(e.output_label)}</td><td>{html.escape(e.input_label)}</td>"
        f"<td>{number(e.autograd, digits)}</td><td>{number(e.numerical[e.reference], digits)}</td>"
        f"<td>{error(e.abs_err)}</td><td>{error(e.tolerance)}</td>"
        f"<td class='{e.status.value}'>{e.status.value}</td></tr>"
        for e in select(result, max_rows).entries
    ]
    return f"<table class='verdicts'>{head}{''.join(rows)}</table>"


def blame_tree(blame: Blame) -> str:
    """Each piece checked on its own, nested by submodule."""

    def items(parent: str | None) -> str:
        pieces = [s for s in blame.suspects if s.parent == parent]
        if not pieces:
            return ""
        out = []
        for s in pieces:
            where = f" at {html.escape(s.file or '')}:{s.line}" if s.file else ""
            wrong = f": wrong w.r.t. {html.escape(', '.join(s.failed_inputs))}" if s.failed_inputs else ""
            culprit = " (culprit)" if s in blame.culprits else ""
            out.append(
                f"<li><code>{html.escape(s.name)}</code> ({html.escape(s.cls)}){where}: "
                f"<span class='{s.verdict}'>{s.verdict}</span>{wrong}{culprit}{items(s.name)}</li>"
            )
        return "<ul>" + "".join(out) + "</ul>"

    return "<div class='blame'><h4>blame</h4>" + items(None) + "</div>"


def point_section(
    result: CheckResult, label: PointLabel, where: tuple[str, int], options: dict[str, int]
) -> str:
    """One point: title, verdict table, diagnosis, blame tree, plots, heat-maps."""
    target, t = where
    parts = [
        f"<h3>{html.escape(label.title(target))}: <span class='{result.verdict}'>{result.verdict}</span></h3>"
    ]
    parts.append(verdict_table(result, options["digits"], options["max_rows"]))
    lines = diagnosis_lines(result)
    if lines:
        parts.append(
            "<ul class='diagnosis'>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"
        )
    if result.diagnosis is not None and result.diagnosis.blame is not None:
        parts.append(blame_tree(result.diagnosis.blame))
    if result.diagnosis is not None and result.diagnosis.taylor is not None:
        parts.append(curves(result.diagnosis.taylor, f"taylor-{t}-{label.index}"))
    blocks = sorted(enumerate(result.all_blocks), key=lambda ib: result.passes(ib[1]))[:MAX_BLOCKS]
    for b, block in blocks:
        parts.append(heatmap(block, result, block_id(t, label.index, b)))
    return "\n".join(parts)


def _target(target: TargetReport, t: int, options: dict[str, int]) -> str:
    head = f"<h2>{html.escape(target.target)}: <span class='{target.verdict}'>{target.verdict}</span></h2>"
    if target.error is not None:
        return head + f"<pre>{html.escape(target.error)}\n{html.escape(target.error_traceback)}</pre>"
    sections = [
        point_section(r, label, (target.target, t), options)
        for label, r in zip(target.labels, target.results)
    ]
    return head + "\n".join(sections)


def render(report: Report, *, digits: int = 12, max_rows: int = 20, **_: Any) -> str:
    """The report as one HTML page, its pictures inline SVG (opens without network access)."""
    options = {"digits": digits, "max_rows": max_rows}
    body = "\n".join(_target(target, t, options) for t, target in enumerate(report.targets))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>gradcheck report</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>gradcheck: <span class='{report.verdict}'>{report.verdict}</span></h1>{body}</body></html>\n"
    )
