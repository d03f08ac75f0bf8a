"""What every format says about the same result: a wrong forward mode, strict kinks, a point not verified."""

from __future__ import annotations

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
from gradcheck_cli.render.formats import render
from gradcheck_cli.render.json_report import schema
from gradcheck_cli.report import PointLabel, Report, TargetReport
from gradcheck_cli.result import CheckResult, Status

REPO = Path(__file__).resolve().parents[2]


KINK = f"{REPO / 'sample_functions' / 'kink.py'}:absolute"


SINE = f"{REPO / 'sample_functions' / 'wrong_jvp.py'}:sine"


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


NEAREST = f"{REPO / 'sample_functions' / 'batching_bug.py'}:nearest"


def test_a_broken_batching_rule_is_a_warning_in_every_format_of_a_pass() -> None:
    report, result = _one(NEAREST, "[[0.1,0.2],[1,-1],[0.5,2],[-1,0.3],[2,2]]")
    assert result.verdict == "PASS"
    said = "the batching rule of CdistBackward0 (torch.cdist's backward) is wrong"
    notes = json.loads(render(report, "json"))["targets"][0]["points"][0]["notes"]
    batching = [n for n in notes if n["kind"] == "batching"]
    assert batching[0]["values"]["op"] == "CdistBackward0" and said in batching[0]["text"]
    case = ET.fromstring(render(report, "junit")).find("testsuite/testcase")
    assert case is not None and case.find("failure") is None
    assert said in (case.findtext("system-out") or "")
    assert said in render(report, "markdown").split("**Warnings**")[1]
    assert any(
        line.startswith("::warning ") and said in line for line in render(report, "github").splitlines()
    )
    assert said in " ".join(render(report, "table").split())
