"""The Markdown renderer: a summary for ``$GITHUB_STEP_SUMMARY`` (or a pull-request comment).

Render-only. A summary table across targets (target, points, failed, worst rel err, verdict), then, folded
in ``<details>``, the failing entries of every failing point and the error of every target that could not
be checked. Appended to the file named by ``$GITHUB_STEP_SUMMARY`` by :func:`append_step_summary`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from gradcheck_cli.report import PointLabel, Report
from gradcheck_cli.result import CheckResult
from gradcheck_cli.table import _error, _number

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


def code(text: str) -> str:
    text = cell(text)
    return f"`{text}`" if "`" not in text else text


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _failing(result: CheckResult, label: PointLabel, target: str, digits: int, max_rows: int) -> list[str]:
    methods = list(result.blocks[0].numerical) if result.blocks else []
    shown = [entry for entry in result.worst(max_rows) if not entry.status.ok]
    bad = sum(n for status, n in result.counts().items() if not status.ok)
    summary = html.escape(
        f"{target} at point {label.index}: {label.text} ({bad} of {result.size} entries not PASS, "
        f"max rel err {_error(result.max_rel_err)})"
    )
    lines = [f"<details><summary>{summary}</summary>", ""]
    headers = [
        "output",
        "input",
        "autograd",
        *(
            (m if m in ("complex-step", "richardson") else f"{m} FD") + (" *" if m == result.method else "")
            for m in methods
        ),
    ]
    headers += ["abs err", "rel err", "tol", "status"]
    lines.append(_row(*headers))
    lines.append(_row(*(["---"] * 2 + ["---:"] * (len(headers) - 3) + ["---"])))
    for entry in shown:
        lines.append(
            _row(
                code(entry.output_label),
                code(entry.input_label),
                _number(entry.autograd, digits),
                *(_number(entry.numerical[m], digits) for m in methods),
                _error(entry.abs_err),
                _error(entry.rel_err),
                _error(entry.tolerance),
                f"**{entry.status.value}**",
            )
        )
    if bad > len(shown):
        lines += ["", f"... {bad - len(shown)} more failing entries not shown."]
    lines += ["", "</details>", ""]
    return lines


def render(report: Report, *, digits: int = 12, max_rows: int = 20, **_: Any) -> str:
    verdict = "PASS" if report.passed else "FAIL" if report.errors == 0 else "ERROR"
    lines = [
        f"### gradcheck: {verdict}",
        "",
        f"{len(report.targets)} target(s), {report.points} point(s), {report.failed_points} with a wrong "
        f"gradient, {report.errors} could not be checked.",
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
                "-" if worst is None else _error(worst),
                f"**{target.verdict}**",
            )
        )
    lines.append("")
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
