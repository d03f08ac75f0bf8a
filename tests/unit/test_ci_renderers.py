"""The CI renderers: JSON (against the shipped schema), JUnit XML, Markdown, GitHub workflow commands."""

from __future__ import annotations

import inspect
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import torch

from gradcheck_cli import check
from gradcheck_cli.app.runner import CheckOptions, PointSource, run_target
from gradcheck_cli.render.formats import format_for, render
from gradcheck_cli.render.github import escape_data, escape_property, workflow_command
from gradcheck_cli.render.json_report import SCHEMA_VERSION, document, schema
from gradcheck_cli.render.markdown import append_step_summary, cell
from gradcheck_cli.report import PointLabel, Report, TargetReport
from gradcheck_cli.result import CheckResult, Status
from sample_functions.tutorial import calc
from sample_functions.wrong_backward import cube

REPO = Path(__file__).resolve().parents[2]
CUBE = f"{REPO / 'sample_functions' / 'wrong_backward.py'}:cube"
CALC = f"{REPO / 'sample_functions' / 'tutorial.py'}:calc"
KINK = f"{REPO / 'sample_functions' / 'kink.py'}:absolute"
SINE = f"{REPO / 'sample_functions' / 'wrong_jvp.py'}:sine"


class Flat(torch.autograd.Function):
    """Constant output, but a backward that says the slope is 1: the relative error is infinite."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


@pytest.fixture(scope="module")
def report() -> Report:
    """Three targets: a right one, a wrong one (two points), one that could not be checked."""
    right = run_target(CALC, PointSource(x=("1,2,3",)), CheckOptions())
    wrong = run_target(CUBE, PointSource(x=("0.5,1,2",)), CheckOptions())
    flat = check(Flat.apply, torch.tensor([2.0], dtype=torch.float64))
    wrong = TargetReport(
        target="wrong|one",
        file=wrong.file,
        line=wrong.line,
        labels=(*wrong.labels, PointLabel(1, "x=[2]")),
        results=(*wrong.results, flat),
    )
    broken = TargetReport(
        target="pkg:broken", error="the function raised ValueError: boom", error_traceback="Traceback...\n"
    )
    return Report((right, wrong, broken))


def test_json_validates_against_the_shipped_schema_and_holds_every_entry(report: Report) -> None:
    data = json.loads(render(report, "json"))
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(data, schema())
    assert (data["version"], data["verdict"], data["passed"], data["exit_code"]) == (
        SCHEMA_VERSION,
        "ERROR",
        False,
        2,
    )
    assert data["summary"] == {
        "targets": 3,
        "points": 3,
        "failed_points": 2,
        "wrong_points": 2,
        "unverified_points": 0,
        "errors": 1,
    }
    right, wrong, broken = data["targets"]
    assert [t["verdict"] for t in data["targets"]] == ["PASS", "FAIL", "ERROR"]
    assert [p["verdict"] for p in wrong["points"]] == ["FAIL", "FAIL"]
    assert right["file"].endswith("tutorial.py") and right["line"] == inspect.getsourcelines(calc)[1]
    entry = right["points"][0]["entries"][0]
    assert (entry["output"], entry["input"], entry["status"], entry["mode"]) == (
        "out",
        "a[0]",
        "PASS",
        "reverse",
    )
    assert entry["autograd"] == pytest.approx(8 / 121, rel=1e-12)
    assert set(entry["numerical"]) == {"central", "forward", "complex-step"}
    assert entry["reference"] == "complex-step"
    cube = wrong["points"][0]
    assert cube["size"] == len(cube["entries"]) == 9 and cube["counts"]["FAIL"] == 2
    failing = {(e["output"], e["input"]): e for e in cube["entries"] if e["status"] == "FAIL"}
    assert set(failing) == {("out[0]", "x[0]"), ("out[2]", "x[2]")}
    assert failing["out[2]", "x[2]"]["autograd"] == 6.0
    flat = wrong["points"][1]["entries"][0]
    assert flat["rel_err"] == "inf" and wrong["points"][1]["max_rel_err"] == "inf"  # JSON has no inf
    assert broken["points"] == [] and broken["error"].startswith("the function raised")


def test_schema_admits_every_status_and_rejects_a_malformed_report(report: Report) -> None:
    pattern = schema()["$defs"]["status"]["pattern"]
    assert all(re.fullmatch(pattern, status.value) for status in Status)
    data = document(report)
    data["targets"][0]["points"][0]["entries"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema())
    del data["targets"][1]["points"][0]["entries"][0]["autograd"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema())


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


def test_markdown_summary_table_and_failing_entries(report: Report) -> None:
    text = render(report, "markdown")
    lines = text.splitlines()
    assert lines[0] == "### gradcheck: ERROR"
    assert "| target | points | failed | worst rel err | verdict |" in lines
    assert f"| `{CALC}` | 1 | 0 | " in text and "| **PASS** |" in text
    assert "| `wrong\\|one` | 2 | 2 | inf | **FAIL** |" in lines
    assert "| `pkg:broken` | 0 | 0 | - | **ERROR** |" in lines
    assert "<details><summary>wrong|one at point 0: x=[0.5, 1, 2]: FAIL (2 of 9 entries failing" in text
    assert re.search(r"\| `out\[2\]` \| `x\[2\]` \| 6 \| 12(\.0+\d*)? \| .* \| \*\*FAIL\*\* \|", text)
    assert cell("a|b\nc") == "a\\|b c"


def test_step_summary_is_appended_when_the_variable_is_set(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert append_step_summary(report) is None
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert append_step_summary(report) == summary
    append_step_summary(report)
    text = summary.read_text()
    assert text.startswith("earlier step\n") and text.count("### gradcheck: ERROR") == 2


def test_github_annotations_are_escaped_and_point_at_the_definition(
    report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert escape_data("50% a\r\nb") == "50%25 a%0D%0Ab"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert (
        workflow_command("error", "x: 1%\n2", file="a,b.py", line=3, title=None)
        == "::error file=a%2Cb.py,line=3::x: 1%25%0A2"
    )
    monkeypatch.setenv("GITHUB_WORKSPACE", str(REPO))
    lines = render(report, "github").splitlines()
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == 3  # two wrong points, one target that could not be checked
    assert errors[0].startswith(
        "::error file=sample_functions/wrong_backward.py,line=24,title=gradcheck%3A wrong gradient of wrong|one at point 0::"
    )
    assert "\n" not in errors[0] and "%0A" in errors[0] and re.search(r"out\[0\] \| x\[0\].*FAIL", errors[0])
    assert (
        errors[2]
        == "::error title=gradcheck%3A pkg%3Abroken could not be checked::the function raised ValueError: boom%0ATraceback...%0A"
    )
    assert f"gradcheck: {CALC}: PASS (1 point(s), 0 failed, worst rel err" in "\n".join(lines)


def test_table_text_and_format_for_suffixes(report: Report) -> None:
    text = render(report, "table")
    assert text.isascii() and "Summary" in text
    assert re.search(r"wrong\|one\s+\|\s+2 \|\s+2 \|\s+inf \| FAIL", text)
    assert "ERROR: 2 of 3 point(s) have a wrong gradient; 1 target(s) could not be checked" in text
    assert [format_for(p) for p in ("r.json", "r.XML", "r.md", "r.txt", "r")] == [
        "json",
        "junit",
        "markdown",
        "table",
        "json",
    ]


def _one(target: str, x: str, **options: Any) -> tuple[Report, CheckResult]:
    report = run_target(target, PointSource(x=(x,)), CheckOptions(**options))
    return Report((report,)), report.results[0]


def _junit_failure(report: Report) -> ET.Element:
    failure = ET.fromstring(render(report, "junit")).find("testsuite/testcase/failure")
    assert failure is not None
    return failure


def test_a_wrong_forward_mode_shows_in_every_format() -> None:
    """F2: a failure found only in forward mode gives non-zero failing counts and its worst error."""
    report, result = _one(SINE, "0.5,1")
    assert (result.verdict, result.failed_modes, result.counts()[Status.FAIL]) == ("FAIL", ("forward",), 0)
    assert result.failing_count() == 2 and result.max_rel_err == pytest.approx(1.0)
    data = json.loads(render(report, "json"))
    jsonschema.validate(data, schema())
    point = data["targets"][0]["points"][0]
    assert data["passed"] is False and point["failed_modes"] == ["forward"] and point["verdict"] == "FAIL"
    assert point["max_rel_err"] == pytest.approx(1.0)
    failing = [e for e in point["entries"] if e["status"] != "PASS"]
    assert failing and all(e["mode"] == "forward" for e in failing)
    message = _junit_failure(report).get("message") or ""
    assert message.startswith("wrong gradient (forward mode): 2 of 8 entries failing")
    assert message.endswith("max rel err 1.00e+00")
    text = render(report, "markdown")
    assert text.startswith("### gradcheck: FAIL\n") and " | 1 | 1 | 1.00e+00 | **FAIL** |" in text
    assert ": FAIL (2 of 8 entries failing, max abs err" in text
    assert "| output | input | AD mode | autograd |" in text
    rows = [line for line in text.splitlines() if line.startswith("| `out[")]
    assert len(rows) == 2 and all(" | forward | " in row and row.endswith("| **FAIL** |") for row in rows)
    table = render(report, "table")
    assert "max rel err 1.00e+00" in table and "FAIL: 1 of 1 point(s) have a wrong gradient" in table


def test_strict_kinks_fail_and_are_counted_in_every_format() -> None:
    """F1: under --strict-kinks a KINK entry fails, and every renderer counts and shows it."""
    loose_report, loose = _one(KINK, "-1,0,2")
    assert loose.verdict == "PASS" and loose.failing_count() == 0 and loose.counts()[Status.KINK] == 1
    assert "### gradcheck: PASS" in render(loose_report, "markdown")
    report, result = _one(KINK, "-1,0,2", strict_kinks=True)
    assert result.verdict == "FAIL" and result.failing(Status.KINK) and not result.failing(Status.PASS)
    kinks = result.counts()[Status.KINK] + result.secondary_counts()[Status.KINK]
    assert kinks >= 1 and result.failing_count() == kinks
    failure = _junit_failure(report)
    message = failure.get("message") or ""
    assert (
        message.startswith("wrong gradient (reverse") and f": {kinks} of {result.checked} entries" in message
    )
    text = failure.text or ""
    assert re.search(r"out\[1\] \| x\[1\] .*\| KINK", text) and "not shown" not in text
    markdown = render(report, "markdown")
    assert (
        "### gradcheck: FAIL" in markdown
        and f": FAIL ({kinks} of {result.checked} entries failing" in markdown
    )
    assert re.search(r"\| `out\[1\]` \| `x\[1\]` \|.*\| \*\*KINK\*\* \|", markdown)
    assert "more failing entries not shown" not in markdown
    data = json.loads(render(report, "json"))
    jsonschema.validate(data, schema())
    assert data["verdict"] == "FAIL" and data["targets"][0]["points"][0]["strict_kinks"] is True
    github = render(report, "github")
    assert "title=gradcheck%3A wrong gradient of" in github and "KINK" in github


def test_a_point_that_cannot_be_verified_is_not_verified_everywhere() -> None:
    """F3: one verdict, NOT VERIFIED, in every format for a point with only NONDETERMINISTIC entries."""

    def drop(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.dropout(x, 0.5, training=True)

    torch.manual_seed(0)
    result = check(drop, torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    assert result.verdict == "NOT VERIFIED" and result.counts()[Status.FAIL] == 0
    target = TargetReport(target="noisy:drop", labels=(PointLabel(0, "x=[1, 2, 3, 4]"),), results=(result,))
    report = Report((target,))
    assert (report.verdict, report.exit_code, report.wrong_points, report.unverified_points) == (
        "NOT VERIFIED",
        1,
        0,
        1,
    )
    data = json.loads(render(report, "json"))
    jsonschema.validate(data, schema())
    assert data["verdict"] == data["targets"][0]["verdict"] == "NOT VERIFIED" and data["exit_code"] == 1
    assert data["targets"][0]["points"][0]["verdict"] == "NOT VERIFIED"
    failure = _junit_failure(report)
    assert failure.get("type") == "NotVerified" and "wrong gradient" not in (failure.get("message") or "")
    markdown = render(report, "markdown")
    assert markdown.startswith("### gradcheck: NOT VERIFIED\n") and "| **NOT VERIFIED** |" in markdown
    assert "0 with a wrong gradient, 1 not verified" in markdown
    github = render(report, "github")
    assert "wrong gradient" not in github and "gradient not verified" in github
    assert "noisy:drop: NOT VERIFIED (1 point(s)" in github
    table = render(report, "table")
    assert "NOT VERIFIED: 1 of 1 point(s) could not be verified" in table and "wrong gradient" not in table
