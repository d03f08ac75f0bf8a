"""The GitHub Actions renderer: ``::error`` workflow commands at the user function's definition.

Render-only. One annotation per point that did not pass (its message: the plain table of the failing
entries; its title: a wrong gradient, or not verified) and one per target that could not be checked, at ``file=…,line=…`` of the function's ``def`` (a path relative to
``$GITHUB_WORKSPACE`` or the current directory), escaped by the rules of GitHub's workflow commands:
``%``, CR and LF in the message; also ``:`` and ``,`` in properties. Passing targets get a plain log line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gradcheck_cli.render.notes import warnings
from gradcheck_cli.render.table import failure_text
from gradcheck_cli.render.text import error
from gradcheck_cli.report import Report, TargetReport


def escape_data(text: str) -> str:
    """A workflow command's message, escaped: ``%``, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value, escaped: as a message, and ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **properties: str | int | None) -> str:
    """``::command key=value,...::message`` with every part escaped."""
    props = ",".join(
        f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None
    )
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def relative_file(file: str | None) -> str | None:
    """``file`` relative to ``$GITHUB_WORKSPACE`` (or the current directory) when inside it."""
    if file is None:
        return None
    base = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    path = Path(file).resolve()
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _lines(target: TargetReport, *, digits: int, max_rows: int) -> list[str]:
    file = relative_file(target.file)
    where: dict[str, str | int | None] = {"file": file, "line": target.line if file else None}
    if target.error is not None:
        message = target.error + ("\n" + target.error_traceback if target.error_traceback else "")
        return [
            workflow_command(
                "error", message, **where, title=f"gradcheck: {target.target} could not be checked"
            )
        ]
    lines = []
    for label, result in zip(target.labels, target.results):
        if not result.passed:
            table = failure_text(result, label, target.target, digits=digits, max_rows=max_rows)
            what = "wrong gradient" if result.verdict == "FAIL" else "gradient not verified"
            title = f"gradcheck: {what} of {target.target} at point {label.index}"
            lines.append(workflow_command("error", table.rstrip("\n"), **where, title=title))
        for found in warnings(result):
            title = f"gradcheck: {target.target} at point {label.index}"
            lines.append(workflow_command("warning", found, **where, title=title))
    worst = target.max_rel_err
    lines.append(
        f"gradcheck: {target.target}: {target.verdict} ({len(target.results)} point(s), "
        f"{target.failed_points} failed, worst rel err {'-' if worst is None else error(worst)})"
    )
    return lines


def render(report: Report, *, digits: int = 12, max_rows: int = 20, **_: Any) -> str:
    """The report as GitHub Actions workflow commands, a line each."""
    lines = [line for target in report.targets for line in _lines(target, digits=digits, max_rows=max_rows)]
    return "\n".join(lines) + "\n"
