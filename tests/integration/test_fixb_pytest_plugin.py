"""The pytest plugin on user mistakes (bad dtype, ragged or empty inputs, no points, a negative tolerance, an
unwritable report path): a one-line message, never a traceback of ours; and the options it shares with the CLI."""

from __future__ import annotations

import pytest
from test_ci_pytest_plugin import (  # noqa: F401 - the autouse fixture keeps torch loaded
    _torch_imported_before_pytester,
    run,
)

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
        test_options="""
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
    result.stdout.fnmatch_lines(["FAILED test_options.py::test_strict_kink*"])
