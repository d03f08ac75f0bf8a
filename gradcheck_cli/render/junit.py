"""The JUnit XML renderer: a testsuite per target, a testcase per point, the failing entries as failure text.

Render-only. A point that did not pass is a ``<failure>`` (type ``WrongGradient`` for the verdict FAIL,
``NotVerified`` for NOT VERIFIED) whose text is the plain (ASCII, colourless) table of the failing entries,
worst first; a target that could not be checked is one ``<testcase>`` with an ``<error>``.
The XML is what Jenkins, GitLab and the GitHub test-report actions ingest.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from gradcheck_cli.render.github import relative_file
from gradcheck_cli.render.notes import warnings
from gradcheck_cli.render.table import failure_text
from gradcheck_cli.render.text import entries_line
from gradcheck_cli.report import Report, TargetReport
from gradcheck_cli.result import CheckResult

# Characters XML 1.0 cannot hold, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("?", text)


def failure_message(result: CheckResult) -> tuple[str, str]:
    """The ``<failure>`` message and type of a point that did not pass."""
    if result.broken_contracts and not result.failed_modes:
        names = ", ".join(c.name for c in result.broken_contracts)
        return f"broken contract ({names}): {entries_line(result)}", "BrokenContract"
    if result.verdict == "FAIL":
        modes = " and ".join(result.failed_modes)
        return f"wrong gradient ({modes} mode): {entries_line(result)}", "WrongGradient"
    return f"not verified: {entries_line(result)}", "NotVerified"


def _suite(target: TargetReport, *, digits: int, max_rows: int) -> ET.Element:
    errors = 1 if target.error is not None else 0
    suite = ET.Element(
        "testsuite",
        name=_clean(target.target),
        tests=str(len(target.results) or errors),
        failures=str(target.failed_points),
        errors=str(errors),
        skipped="0",
    )
    file = relative_file(target.file)
    where = {"file": _clean(file)} if file else {}
    if target.line is not None:
        where["line"] = str(target.line)
    if target.error is not None:
        case = ET.SubElement(suite, "testcase", classname=_clean(target.target), name="check", **where)
        error = ET.SubElement(case, "error", message=_clean(target.error), type="GradcheckError")
        error.text = _clean(target.error_traceback or target.error)
        return suite
    for label, result in zip(target.labels, target.results):
        name = _clean(f"point {label.index}: {label.text}")
        case = ET.SubElement(suite, "testcase", classname=_clean(target.target), name=name, **where)
        if not result.passed:
            message, kind = failure_message(result)
            failure = ET.SubElement(case, "failure", message=_clean(message), type=kind)
            failure.text = _clean(
                failure_text(result, label, target.target, digits=digits, max_rows=max_rows)
            )
        found = warnings(result)
        if found:  # findings beside the verdict (a broken batching rule): the test's output
            ET.SubElement(case, "system-out").text = _clean("\n".join(f"warning: {w}" for w in found))
    return suite


def render(report: Report, *, digits: int = 12, max_rows: int = 20, **_: Any) -> str:
    """The report as JUnit XML: a ``<testsuite>`` per target, a ``<testcase>`` per point."""
    root = ET.Element(
        "testsuites",
        name="gradcheck",
        tests=str(sum(len(t.results) or (t.error is not None) for t in report.targets)),
        failures=str(report.failed_points),
        errors=str(report.errors),
    )
    for target in report.targets:
        root.append(_suite(target, digits=digits, max_rows=max_rows))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
