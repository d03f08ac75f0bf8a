"""The pytest plugin under pytest-xdist: the same pass/fail as a serial run, and one ``--gradcheck-report``
merged from the workers in collection order; a check that could not run is ERROR in it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gradcheck_cli.render.json_report import schema

pytest.importorskip("xdist")

REPO = Path(__file__).resolve().parents[1]

TESTS = """
import pytest
import torch
import wrong_backward

X = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)


def cube(x):
    return x**3


@pytest.mark.parametrize("scale", [1.0, 2.0, 3.0])
def test_right(grad_checker, scale):
    grad_checker(lambda x: scale * cube(x), X)


def test_wrong(grad_checker):
    grad_checker(wrong_backward.cube, X)


def test_raises(grad_checker):
    def broken(x):
        raise ValueError("boom")

    grad_checker(broken, X)


def test_two_points(grad_checker):
    grad_checker.points(torch.sin, [X, X + 1])
"""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradcheck-report=report.json", *args)
    data = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(data, schema())
    return result, data


def test_two_workers_give_the_serial_outcomes_and_one_merged_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(wrong_backward=(REPO / "sample_functions" / "wrong_backward.py").read_text())
    pytester.makepyfile(test_checks=TESTS)
    serial, one = run(pytester)
    parallel, merged = run(pytester, "-n", "2")
    serial.assert_outcomes(passed=4, failed=2)
    parallel.assert_outcomes(passed=4, failed=2)
    assert "2 workers [6 items]" in parallel.stdout.str()
    assert merged == one  # every check, in collection order, whichever worker ran it
    verdicts = [(t["target"].split("::")[1].split("[")[0], t["verdict"]) for t in merged["targets"]]
    assert verdicts == [("test_right", "PASS")] * 3 + [
        ("test_wrong", "FAIL"),
        ("test_raises", "ERROR"),
        ("test_two_points", "PASS"),
    ]
    raised = merged["targets"][4]
    assert raised["error"].startswith("the function raised ValueError: boom")
    assert merged["exit_code"] == 1 and len(merged["targets"][5]["points"]) == 2
