"""JUnit XML: a suite per target, a case per point, the table as failure text."""

from __future__ import annotations

import inspect
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from gradcheck_cli.render.formats import render
from gradcheck_cli.report import Report
from sample_functions.wrong_backward import cube

REPO = Path(__file__).resolve().parents[2]


CALC = f"{REPO / 'sample_functions' / 'tutorial.py'}:calc"


def test_junit_has_a_suite_per_target_a_case_per_point_and_the_table_as_failure_text(report: Report) -> None:
    root = ET.fromstring(render(report, "junit"))
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites",
        "4",
        "2",
        "1",
    )
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [CALC, "wrong|one", "pkg:broken"]
    assert [len(s.findall("testcase")) for s in suites] == [1, 2, 1]
    assert suites[0].find("testcase/failure") is None
    failure = suites[1].find("testcase/failure")
    assert failure is not None and failure.get("type") == "WrongGradient"
    assert "2 of 9 entries failing" in (failure.get("message") or "")
    text = failure.text or ""
    assert text.isascii() and "\x1b" not in text
    assert re.search(r"out\[0\] \| x\[0\] .*\| FAIL", text) and "PASS   |" not in text
    case = suites[1].find("testcase")
    assert (
        case is not None
        and case.get("file", "").endswith("wrong_backward.py")
        and case.get("line") == str(inspect.getsourcelines(cube)[1])
    )
    error = suites[2].find("testcase/error")
    assert error is not None and error.get("message") == "the function raised ValueError: boom"
