"""``benchmarks/kornia_suite.py`` and ``benchmarks/kornia_plants.py``: reading JUnit XML and our report,
pairing the two sessions' outcomes, the planted error itself. No kornia run (that is the benchmark)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import kornia_plants
import kornia_suite
from kornia_suite import Case

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="" name="tests.core.test_module" time="0.0">
  <error message="collection failure">E   ModuleNotFoundError: No module named 'PIL'</error></testcase>
<testcase classname="tests.filters.test_a.TestA" name="test_gradcheck[cpu]" time="0.1"/>
<testcase classname="tests.filters.test_a.TestB" name="test_gradcheck[cpu]" time="0.1">
  <failure message="short">def f():
E   torch.autograd.gradcheck.GradcheckError: Jacobian mismatch for output 0
E   numerical:tensor(1.)
E   analytical:tensor(2.)
E   more</failure></testcase>
<testcase classname="tests.filters.test_a.TestC" name="test_gradcheck[cpu]" time="0.1">
  <error message="failed on setup with ImportError: no module named x">trace</error></testcase>
<testcase classname="tests.filters.test_a.TestD" name="test_gradcheck[cpu]" time="0.0">
  <skipped type="pytest.skip" message="needs cuda">skip</skipped></testcase>
</testsuite></testsuites>"""


def test_junit_cases_are_read_by_dotted_id_with_their_outcome_and_message() -> None:
    cases = kornia_suite.parse_junit(JUNIT)
    prefix = "tests.filters.test_a."
    assert {name.removeprefix(prefix): c.outcome for name, c in cases.items()} == {
        "TestA.test_gradcheck[cpu]": "pass",
        "TestB.test_gradcheck[cpu]": "fail",
        "TestC.test_gradcheck[cpu]": "error",
        "TestD.test_gradcheck[cpu]": "skip",
    }
    assert kornia_suite.collection_errors(JUNIT) == {
        "tests.core.test_module": "ModuleNotFoundError: No module named 'PIL'"
    }
    failure = cases[prefix + "TestB.test_gradcheck[cpu]"].message  # a short message: the E lines instead
    assert failure.startswith("torch.autograd.gradcheck.GradcheckError: Jacobian mismatch")
    assert failure.count(" | ") == 2  # the first three E lines
    assert cases[prefix + "TestC.test_gradcheck[cpu]"].message.startswith("failed on setup with ImportError")


def test_a_node_id_is_dotted_as_junit_names_it() -> None:
    nodeid = "tests/geometry/test_b.py::TestX::test_gradcheck[cpu-float64]"
    assert kornia_suite.dotted(nodeid) == "tests.geometry.test_b.TestX.test_gradcheck[cpu-float64]"
    assert kornia_suite.dotted("tests/test_c.py::test_gradcheck") == "tests.test_c.test_gradcheck"


def test_report_targets_become_lines_under_their_test() -> None:
    document = {
        "targets": [
            {"target": "tests/a.py::T::test_gradcheck[cpu]::match_nn", "points": [{"verdict": "PASS"}]},
            {
                "target": "tests/a.py::U::test_gradcheck[cpu]::f",
                "points": [{"verdict": "FAIL", "contracts": [{"name": "batched_grad", "passed": False}]}],
            },
            {"target": "tests/a.py::V::test_gradcheck[cpu]::g", "error": "the function raised\nValueError"},
        ]
    }
    notes = kornia_suite.report_notes(document)
    assert notes["tests.a.T.test_gradcheck[cpu]"] == ["match_nn: PASS"]
    assert notes["tests.a.U.test_gradcheck[cpu]"] == ["f: FAIL (contracts: batched_grad)"]
    assert notes["tests.a.V.test_gradcheck[cpu]"] == ["g: ERROR the function raised"]


def test_sessions_pair_by_test_and_differences_are_listed_with_both_reasons() -> None:
    torch_cases = {"t.a": Case("pass"), "t.b": Case("pass"), "t.c": Case("fail", "mismatch")}
    our_cases = {"t.a": Case("pass"), "t.b": Case("fail", "wrong gradient"), "t.d": Case("error", "raised")}
    rows = kornia_suite.pair(torch_cases, our_cases, {"t.b": ["f: FAIL"]})
    assert [(r.test, r.torch.outcome, r.ours.outcome) for r in rows] == [
        ("t.a", "pass", "pass"),
        ("t.b", "pass", "fail"),
        ("t.c", "fail", "missing"),
        ("t.d", "missing", "error"),
    ]
    assert kornia_suite.tally(rows)[("pass", "fail")] == 1
    summary = kornia_suite.summary_lines(rows)
    assert "torch: 2 pass, 1 fail, 1 missing" in summary
    assert summary[-1] == "differences: 3 of 4 tests"
    differences = kornia_suite.difference_lines(rows)
    assert differences[:4] == [
        "t.b: torch pass, ours fail",
        "    ours: wrong gradient",
        "    report: f: FAIL",
        "t.c: torch fail, ours missing",
    ]
    assert not any(line.startswith("t.a") for line in differences)
    assert kornia_suite.torch_failure_lines(rows) == [
        "t.c: torch fail, ours missing",
        "    torch: mismatch",
        "    ours: ",
    ]


def test_our_failure_table_is_shortened_to_its_heading_and_worst_row() -> None:
    text = "E   GradcheckFailure: gradcheck failed: FAIL\nE   f at point 0: x\nE    output | input | status\n"
    text += "E   -------+-------\nE    out[1]  |  x[0]  | FAIL\nE    out[2]  |  x[1]  | FAIL\n"
    message = kornia_suite.parse_junit(JUNIT.replace("def f():", text.replace("<", "")))
    expected = "GradcheckFailure: gradcheck failed: FAIL | f at point 0: x | worst: out[1] | x[0] | FAIL"
    assert message["tests.filters.test_a.TestB.test_gradcheck[cpu]"].message == expected


def test_each_plant_belongs_to_its_own_test_in_every_parametrization() -> None:
    function, test = kornia_plants.PLANTS[0]
    assert kornia_plants.plant_for(test + "[cpu-float64]") == function
    assert kornia_plants.plant_for(test.replace("test_gradcheck", "test_smoke") + "[cpu]") is None
    assert len({t for _, t in kornia_plants.PLANTS}) == len(kornia_plants.PLANTS) >= 20


@pytest.mark.parametrize("mode", ["all", "one"])
def test_the_planted_error_scales_the_backward_only(mode: str) -> None:
    counter = [0]
    bugged = kornia_plants.planted(lambda x: (x.sin(), 3), mode, counter)
    x = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    out, three = bugged(x)
    assert three == 3 and counter == [1]
    torch.testing.assert_close(out, x.sin(), rtol=0, atol=0)
    (grad,) = torch.autograd.grad(out.sum(), x, retain_graph=True)
    expected = x.detach().cos() * torch.tensor(
        [1 + 1e-4, 1 + 1e-4 * (mode == "all"), 1 + 1e-4 * (mode == "all")], dtype=torch.float64
    )
    torch.testing.assert_close(grad, expected, rtol=1e-15, atol=0)
    batched = torch.func.vmap(lambda v: torch.autograd.grad(out, x, v, retain_graph=True)[0])(
        torch.eye(3, dtype=torch.float64)
    )
    torch.testing.assert_close(batched.diagonal(), expected, rtol=1e-15, atol=0)


def test_a_swap_replaces_the_function_in_every_module_that_holds_it() -> None:
    module = type(sys)("kornia_plants_probe")
    module.f = original = len
    sys.modules[module.__name__] = module
    try:
        places = kornia_plants.swap(original, abs)
        assert module.f is abs and (module.__dict__, "f") in places
    finally:
        for namespace, name in places:
            namespace[name] = original
        del sys.modules[module.__name__]
    assert module.f is len


def test_the_catch_rate_counts_only_errors_planted_where_the_clean_test_passes() -> None:
    (first, _), (second, _), (third, _) = kornia_plants.PLANTS[:3]
    clean = {
        "torch": {first: "pass", second: "pass", third: "fail"},
        "ours": {first: "pass", second: "pass", third: "pass"},
    }
    bugged = {
        "torch": {first: "pass", second: "pass", third: "fail"},
        "ours": {first: "fail", second: "fail", third: "fail"},
    }
    lines = kornia_plants.catch_lines(clean, bugged, {first: 1, second: 2, third: 1})
    assert lines[-2] == "torch: caught 0 of 2 planted errors (0%)"
    assert lines[-1] == "ours: caught 3 of 3 planted errors (100%)"
