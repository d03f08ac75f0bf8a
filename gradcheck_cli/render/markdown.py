"""The Markdown renderer: a summary for ``$GITHUB_STEP_SUMMARY`` (or a pull-request comment).

Render-only (the verdicts come from the report). A summary table across targets (target, points, failed,
worst rel err, verdict), then, folded in ``<details>``, the failing entries of every point that did not pass
(with the AD mode of each when a mode other than reverse shows) and the error of every target that could not
be checked. Appended to the file named by ``$GITHUB_STEP_SUMMARY`` by :func:`append_step_summary`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from gradcheck_cli.render.contracts import broken_lines
from gradcheck_cli.render.diagnosis_text import diagnosis_lines
from gradcheck_cli.render.notes import warnings
from gradcheck_cli.render.text import entries_line, error, method_column, number, select
from gradcheck_cli.report import PointLabel, Report
from gradcheck_cli.result import CheckResult

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


def code(text: str) -> str:
    """Text as inline code in a table cell (plain when it holds a backtick)."""
    text = cell(text)
    return f"`{text}`" if "`" not in text else text


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _failing(result: CheckResult, label: PointLabel, target: str, digits: int, max_rows: int) -> list[str]:
    chosen = select(result, max_rows, only_failing=True)
    methods, modes, shown = chosen.methods, chosen.modes, chosen.entries
    summary = html.escape(f"{label.title(target)}: {result.verdict} ({entries_line(result)})")
    lines = [f"<details><summary>{summary}</summary>", ""]
    headers = [
        "output",
        "input",
        *(["AD mode"] if modes else []),
        "autograd",
        *(method_column(m, result) for m in methods),
    ]
    headers += ["abs err", "rel err", "tol", "status"]
    lines.append(_row(*headers))
    left = 3 if modes else 2
    lines.append(_row(*(["---"] * left + ["---:"] * (len(headers) - left - 1) + ["---"])))
    for entry in shown:
        lines.append(
            _row(
                code(entry.output_label),
                code(entry.input_label),
                *([entry.mode] if modes else []),
                number(entry.autograd, digits),
                *(number(entry.numerical[m], digits) for m in methods),
                error(entry.abs_err),
                error(entry.rel_err),
                error(entry.tolerance),
                f"**{entry.status.value}**",
            )
        )
    if chosen.hidden:
        lines += ["", f"... {chosen.hidden} more failing entries not shown."]
    found = diagnosis_lines(result)
    lines += ["", *(f"- {html.escape(line)}" for line in found)] if found else []
    lines += ["", *(f"- {cell(line)}" for line in broken_lines(result))] if result.broken_contracts else []
    lines += ["", "</details>", ""]
    return lines


def render(report: Report, *, digits: int = 12, max_rows: int = 20, **_: Any) -> str:
    """The report as GitHub-flavoured Markdown: the run's verdict, a row per target, the failing entries
    of each point that did not pass and the error of each target that could not be checked."""
    lines = [
        f"### gradcheck: {report.verdict}",
        "",
        f"{len(report.targets)} target(s), {report.points} point(s), {report.wrong_points} with a wrong "
        f"gradient, {report.unverified_points} not verified, {report.errors} could not be checked.",
        "",
        _row("target", "points", "failed", "worst rel err", "verdict"),
        _row("---", "---:", "---:", "---:", "---"),
    ]
    for target in report.targets:
        worst = target.max_rel_err
        lines.append(
            _row(
                code(target.target),
                str(len(target.results)),
                str(target.failed_points),
                "-" if worst is None else error(worst),
                f"**{target.verdict}**",
            )
        )
    lines.append("")
    found = [
        f"- {cell(label.title(target.target))}: {cell(text)}"
        for target in report.targets
        for label, result in zip(target.labels, target.results)
        for text in warnings(result)
    ]
    lines += ["**Warnings**", "", *found, ""] if found else []
    for target in report.targets:
        if target.error is not None:
            lines += [f"<details><summary>{html.escape(target.target)}: error</summary>", "", "```text"]
            lines += [
                target.error.replace("```", "'''"),
                *target.error_traceback.replace("```", "'''").splitlines(),
            ]
            lines += ["```", "", "</details>", ""]
        for label, result in zip(target.labels, target.results):
            if not result.passed:
                lines += _failing(result, label, target.target, digits, max_rows)
    return "\n".join(lines) + "\n"


def append_step_summary(report: Report, *, digits: int = 12, max_rows: int = 20) -> Path | None:
    """Append the Markdown summary to ``$GITHUB_STEP_SUMMARY`` when it is set; return the file, or None."""
    path = os.environ.get(STEP_SUMMARY)
    if not path:
        return None
    with open(path, "a", encoding="utf-8") as file:
        file.write(render(report, digits=digits, max_rows=max_rows))
    return Path(path)
