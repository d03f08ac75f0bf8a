"""The pytest plugin: the grad_checker fixture, the gradcheck marker, --gradcheck-* options, --gradcheck-report, and user mistakes (a one-line message, never a traceback of ours)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gradcheck_cli.render.json_report import schema

REPO = Path(__file__).resolve().parents[1]


WRONG_BACKWARD = (REPO / "sample_functions" / "wrong_backward.py").read_text()


PLUGIN = "gradcheck_cli.pytest_plugin"


@pytest.fixture(autouse=True, scope="module")
def _torch_imported_before_pytester() -> None:
    """Import, before the first in-process pytester run, every module torch imports lazily when a custom
    ``autograd.Function`` is checked: pytester removes the modules a run imported when it ends, and torch
    crashes (a segmentation fault) when its C-backed modules are imported a second time."""
    import torch

    from gradcheck_cli import check

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    assert check(Square.apply, torch.tensor([0.5, 2.0], dtype=torch.float64)).passed
    assert check(torch.sin, torch.tensor([0.5, 2.0])).passed


def lines_in_order(text: str, fragments: list[str]) -> None:
    """Every fragment occurs in ``text``, each on a line after the previous one's."""
    lines = text.splitlines()
    at = 0
    for fragment in fragments:
        found = next((i for i in range(at, len(lines)) if fragment in lines[i]), None)
        assert found is not None, f"{fragment!r} not found after line {at} in:\n{text}"
        at = found + 1


def plugin_args() -> list[str]:
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", PLUGIN]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding the wrong-backward sample (``cube``) and a right ``cube``."""
    pytester.makepyfile(
        wrong_backward=WRONG_BACKWARD,
        right_cube="def cube(x):\n    return x**3\n",
    )
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*plugin_args(), "-p", "no:cacheprovider", *args)


TESTS = """
import pytest
import torch
import right_cube
import wrong_backward

X = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)

def test_right(grad_checker):
    result = grad_checker(right_cube.cube, X)
    assert result.passed and result.size == 9

def test_wrong(grad_checker):
    grad_checker(wrong_backward.cube, X)
"""


MISTAKES = """
import pytest
import torch

def cube(x):
    return x**3

@pytest.mark.gradcheck(dtype="float8")
def test_bad_dtype(grad_checker):
    grad_checker(cube, [1.0, 2.0])

def test_ragged(grad_checker):
    grad_checker(cube, [[1.0, 2.0], [3.0]])

def test_empty_list(grad_checker):
    grad_checker(cube, [[]])

def test_no_inputs(grad_checker):
    grad_checker(cube, ())

def test_not_a_number(grad_checker):
    grad_checker(cube, ["one"])

def test_no_points(grad_checker):
    grad_checker.points(cube, [])

@pytest.mark.gradcheck(atol=-1)
def test_negative_atol(grad_checker):
    grad_checker(cube, [1.0, 2.0])

def test_unknown_keyword(grad_checker):
    grad_checker(cube, [1.0], tolerance=1)

def test_sys_exit(grad_checker):
    import sys
    def bye(x):
        sys.exit(3)
    grad_checker(bye, [1.0])
"""


MESSAGES = {
    "test_bad_dtype": "gradcheck: dtype = 'float8' is invalid: expected one of 'float64', 'float32', 'float16', 'bfloat16'",
    "test_ragged": "gradcheck: argument 0: ragged nesting in '[[1.0, 2.0], [3.0]]'",
    "test_empty_list": "gradcheck: argument 0: empty list",
    "test_no_inputs": "gradcheck: no inputs given",
    "test_not_a_number": "gradcheck: argument 0: 'one'",
    "test_no_points": "gradcheck: grad_checker.points: no points given",
    "test_negative_atol": "gradcheck: atol = -1 is invalid: expected a finite number >= 0",
    "test_unknown_keyword": "grad_checker: unknown option(s) tolerance",
    "test_sys_exit": "gradcheck: the function raised SystemExit: 3",
}


def test_fixture_passes_a_right_gradient_and_fails_a_wrong_one_with_the_table(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_cubes=TESTS)
    result = run(project)
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "\x1b[" not in out and out.isascii()
    lines_in_order(
        out,
        [
            "AssertionError: wrong gradient of cube at 1 of 1 point(s):",
            "cube at point 0: x=[0.5, 1, 2]",
            "output | input | autograd | central FD |     forward FD | complex-step * |  ref err |  abs err |",
            "out[0] | x[0]  |      1.5 |",
            "out[2] | x[2]  |        6 |",
            "9 entries checked (7 PASS, 2 FAIL)",
        ],
    )
    # The failure section only: newer pytest repeats the whole message in the short test summary.
    failure = out[out.index("wrong gradient of cube") : out.index("short test summary info")]
    table_rows = [line for line in failure.splitlines() if re.search(r"\| (PASS|FAIL)\s*$", line)]
    assert len(table_rows) == 2 and all(row.endswith("FAIL") for row in table_rows), "only failing entries"
    assert "test_right" not in failure


def test_marker_sets_the_options_of_one_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_marker="""
        import pytest
        import torch
        from wrong_backward import cube

        @pytest.mark.gradcheck(atol=10, rtol=0)
        def test_loose(grad_checker):
            assert grad_checker(cube, torch.tensor([0.5, 2.0], dtype=torch.float64)).passed

        @pytest.mark.gradcheck(method="forward", dtype="float32")
        def test_method_and_dtype(grad_checker):
            result = grad_checker(lambda x: x.sin(), [0.5, 2.0])
            assert (result.method, result.dtype) == ("forward", "float32")

        def test_strict(grad_checker):
            grad_checker(cube, torch.tensor([0.5, 2.0], dtype=torch.float64))

        @pytest.mark.gradcheck(tolerance=1)
        def test_unknown_option(grad_checker):
            pass

        def broken(x):
            raise ValueError("boom")

        def test_user_error(grad_checker):
            grad_checker(broken, [1.0])
        """
    )
    result = run(project)
    result.assert_outcomes(passed=2, failed=2, errors=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*unknown option(s) tolerance; expected some of dtype, method, eps, atol*"])
    lines_in_order(
        out,
        [
            "test_user_error",
            "gradcheck: the function raised ValueError: boom",
            'test_marker.py", line 22, in broken',
        ],
    )
    assert "engine.py" not in out and "pytest_plugin.py" not in out and "direct cause" not in out
    assert "ERROR at setup of test_unknown_option" in out


def test_command_line_options_and_pyproject_defaults_in_order_of_precedence(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_layered_options="""
        import pytest
        import torch
        from wrong_backward import cube

        X = torch.tensor([0.5, 2.0], dtype=torch.float64)

        def test_default(grad_checker):
            grad_checker(cube, X)

        @pytest.mark.gradcheck(atol=10)
        def test_marked(grad_checker):
            grad_checker(cube, X)

        def test_method(grad_checker, request):
            method = grad_checker(lambda x: x * 2, X).method
            expected = request.config.getoption("--gradcheck-method")
            # auto: Richardson where the first pass settles it, the complex step under atol/rtol (no first pass)
            assert method == expected if expected else method in ("richardson", "complex-step")
        """
    )
    run(project).assert_outcomes(passed=2, failed=1)
    run(project, "--gradcheck-atol", "10", "--gradcheck-rtol", "0").assert_outcomes(passed=3)
    run(project, "--gradcheck-method", "forward").assert_outcomes(passed=2, failed=1)
    project.makepyprojecttoml("[tool.gradcheck]\natol = 10\nrtol = 0\n")
    run(project).assert_outcomes(passed=3)
    # the command line beats the pyproject, the marker beats the command line
    result = run(project, "--gradcheck-atol", "1e-7")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_layered_options.py::test_default*"])


def test_several_points_in_one_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_several_points="""
        import pytest
        import torch
        from wrong_backward import cube

        def test_points(grad_checker):
            grad_checker.points(cube, [torch.tensor(1.0).double(), torch.tensor(2.0).double(), [0.5, 0.0]])

        def test_points_right(grad_checker):
            results = grad_checker.points(lambda a, b: a * b.exp(), [(1.0, 2.0), ([1.0, 2.0], 0.5)])
            assert [r.size for r in results] == [2, 6]

        @pytest.mark.parametrize("x", [0.0, 1.0, 3.0])
        def test_parametrized(grad_checker, x):
            grad_checker(cube, torch.tensor([x], dtype=torch.float64))
        """
    )
    result = run(project)
    result.assert_outcomes(passed=3, failed=2)
    out = result.stdout.str()
    assert "wrong gradient of cube at 2 of 3 point(s)" in out
    assert "cube at point 1: x=2\n" in out and "cube at point 2: x=[0.5, 0]\n" in out
    assert "cube at point 0" not in out.split("test_points ")[1].split("test_parametrized")[0]
    assert "FAILED test_several_points.py::test_parametrized[3.0]" in out


def test_report_file_json_and_junit(project: pytest.Pytester) -> None:
    project.makepyfile(test_cubes=TESTS)
    run(project, "--gradcheck-report", "gradcheck.json").assert_outcomes(passed=1, failed=1)
    document = json.loads((project.path / "gradcheck.json").read_text())
    jsonschema.validate(document, schema())
    assert document["passed"] is False and document["summary"]["points"] == 2
    assert [t["verdict"] for t in document["targets"]] == ["PASS", "FAIL"]
    assert document["targets"][1]["target"] == "test_cubes.py::test_wrong::cube"
    run(project, "--gradcheck-report", "gradcheck.xml").assert_outcomes(passed=1, failed=1)
    xml = (project.path / "gradcheck.xml").read_text()
    assert xml.count("<testcase ") == 2 and xml.count("<failure ") == 1


def test_config_error_names_the_file_the_key_and_what_is_expected(project: pytest.Pytester) -> None:
    project.makepyprojecttoml('[tool.gradcheck]\nmethod = "sideways"\n')
    project.makepyfile(test_cubes=TESTS)
    result = run(project)
    result.assert_outcomes(errors=2)
    out = result.stdout.str()
    assert "Traceback" not in out and "config.py" not in out
    lines_in_order(
        out,
        [
            "ERROR at setup of test_right",
            "/pyproject.toml: [tool.gradcheck] method = 'sideways' is invalid: expected one of 'auto', 'central', 'forward', 'backward', 'richardson', 'complex-step'",
        ],
    )


def test_plugin_import_does_not_import_torch() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {PLUGIN}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert PLUGIN in imported and "pytest" in imported  # the listing is really there
    assert not {name for name in imported if name.split(".")[0] in ("torch", "numpy")}


def test_user_mistakes_fail_with_a_message_and_no_traceback_of_ours(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mistakes=MISTAKES)
    result = run(pytester)
    result.assert_outcomes(failed=len(MESSAGES))
    out = result.stdout.str()
    for name in ("pytest_plugin.py", "runner.py", "values.py", "engine.py", "ValueError", "direct cause"):
        assert name not in out, name
    sections = out.split("_____ ")
    for test, message in MESSAGES.items():
        (section,) = [s for s in sections if s.startswith(f"{test} _")]
        assert message in section, (test, section)


def test_unwritable_report_path_is_a_message_and_a_usage_exit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_ok="def test_ok(grad_checker):\n    assert grad_checker(lambda x: x * 2, [1.0]).passed\n"
    )
    result = run(pytester, "--gradcheck-report", str(pytester.path / "missing" / "report.json"))
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert "gradcheck: error: cannot write --gradcheck-report" in out and "No such file or directory" in out
    assert "INTERNALERROR" not in out and "Traceback" not in out


def test_marker_takes_the_check_options_of_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_layered_options="""
        import pytest
        import torch

        @pytest.mark.gradcheck(strict_kinks=True)
        def test_strict_kink(grad_checker):
            grad_checker(torch.abs, [-1.0, 0.0, 2.0])

        def test_kink(grad_checker):
            assert grad_checker(torch.abs, [-1.0, 0.0, 2.0]).passed

        @pytest.mark.gradcheck(mode="probe", probes=2, seed=3, forward=False, order=2)
        def test_probe_order_two(grad_checker):
            result = grad_checker(lambda x: (x**3).sum(), [0.5, 1.0, 2.0])
            assert (result.mode, result.order) == ("probe", 2)
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_layered_options.py::test_strict_kink*"])


def test_the_reports_of_split_jobs_merge_into_one(project: pytest.Pytester) -> None:
    """As pytest-split runs a group of the tests per CI job: each job's --gradcheck-report, merged by
    ``gradcheck merge``, holds every job's checks, with the exit code of the whole."""
    from click.testing import CliRunner

    from gradcheck_cli.cli import cli

    project.makepyfile(test_cubes=TESTS)
    run(project, "-k", "test_wrong", "--gradcheck-report", "job2.json").assert_outcomes(failed=1)
    run(project, "-k", "test_right", "--gradcheck-report", "job1.json").assert_outcomes(passed=1)
    paths = [str(project.path / name) for name in ("job1.json", "job2.json")]
    result = CliRunner().invoke(cli, ["merge", *paths, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema())
    assert [(t["target"], t["verdict"]) for t in document["targets"]] == [
        ("test_cubes.py::test_right::cube", "PASS"),
        ("test_cubes.py::test_wrong::cube", "FAIL"),
    ]
