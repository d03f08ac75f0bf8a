"""The numerical core's fixes: low-precision round-off, empty outputs, constant gradients at order 2,
in-place input mutation, explicit steps, and the notes and labels the core writes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import gradcheck_cli
from gradcheck_cli.cli import cli
from gradcheck_cli.errors import InputError, UsageError, UserFunctionError
from gradcheck_cli.result import Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import CORRECT, buggy

# Subprocesses import this checkout's package, whatever is installed.
_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def calc(a: torch.Tensor) -> torch.Tensor:
    b = a * 2 + 1
    c = b * b
    d = c / (c + 2)
    return d.mean()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_a_correct_multi_op_function_passes_in_low_precision(dtype: torch.dtype) -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=dtype))
    assert result.counts()[Status.FAIL] == 0
    assert result.passed


def test_low_precision_keeps_detecting_planted_bugs_in_float16() -> None:
    correct = next(case for case in CORRECT if case.name == "weighted_distance")
    assert gradcheck_cli.check(correct.func, correct.inputs(torch.bfloat16)).counts()[Status.FAIL] == 0
    for case in buggy(["1%", "x2"])[:6]:
        assert gradcheck_cli.check(case.func, case.inputs(torch.float16)).counts()[Status.FAIL] > 0, case.name


def test_an_empty_output_is_a_user_function_error_not_a_traceback() -> None:
    with pytest.raises(UserFunctionError, match="empty tensor"):
        gradcheck_cli.check(lambda x: x[:0], torch.tensor([1.0, 2.0], dtype=torch.float64))
    # An empty secondary output (native_batch_norm, linalg.lstsq) is skipped, as torch does.
    result = gradcheck_cli.check(lambda x: (x * 2, x[:0]), torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert result.passed and [(s.name, s.reason) for s in result.call.skipped_outputs] == [("out1", "empty")]
    with pytest.raises(InputError, match="empty"):
        gradcheck_cli.check(lambda x: x * 2, torch.zeros(0, dtype=torch.float64))


def test_the_cli_reports_an_empty_output_with_exit_2(write_module) -> None:
    write_module("empty", "def empty_out(x):\n    return x[:0]\n")
    for command in (
        ["run", "empty.py:empty_out", "--x", "1,2,3"],
        ["sweep", "empty.py:empty_out", "--x", "1,2"],
    ):
        result = CliRunner().invoke(cli, command, catch_exceptions=False)
        assert result.exit_code == 2
        assert "empty tensor" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("mode", ["full", "probe"])
def test_order_2_of_a_function_with_a_constant_gradient_is_a_zero_hessian(mode: str) -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    for func in (lambda x: x * 1.0, lambda x: (x * 2,), lambda x: (3 * x).sum()):
        result = gradcheck_cli.check(func, x, order=2, mode=mode)
        assert result.passed
        assert all(float(abs(block.autograd).max()) == 0 for block in result.blocks)


def test_order_2_of_a_model_with_a_bias_passes(repo_cwd: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["run", "sample_functions/models.py:TinyNet", "--x-shape", "4,10", "--mode", "probe", "--order", "2"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output


def _add_under_no_grad(x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        x.add_(1)
    return (x**2).sum()


def _mul_in_place(x: torch.Tensor) -> torch.Tensor:
    x.mul_(2)
    return (x**2).sum()


@pytest.mark.parametrize("func", [_add_under_no_grad, _mul_in_place])
def test_a_function_that_modifies_its_input_in_place_is_told_so(func) -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    with pytest.raises(UserFunctionError, match=r"modified (its input x|an input) in place"):
        gradcheck_cli.check(func, x)
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_the_cli_reports_in_place_modification_with_exit_2(write_module) -> None:
    write_module(
        "mut",
        "import torch\ndef f(x):\n    with torch.no_grad():\n        x.add_(1)\n    return (x**2).sum()\n",
    )
    result = CliRunner().invoke(cli, ["run", "mut.py:f", "--x", "1,2,3"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "modified its input x in place" in result.stderr


@pytest.mark.parametrize("eps", [float("inf"), float("nan"), 0.0, -1.0])
def test_a_step_that_is_not_finite_and_positive_is_a_usage_error(eps: float) -> None:
    with pytest.raises(UsageError, match="finite positive step"):
        gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), eps=eps)


def test_auto_with_an_explicit_step_uses_central_differences_at_that_step() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), eps=1e-3)
    assert result.method == "central" and result.passed
    assert result.blocks[0].steps["central"].tolist() == [1e-3] * 3
    assert any("auto with --eps" in note for note in result.notes), result.notes


def test_a_huge_step_is_never_a_confident_fail() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), eps=1e10)
    assert result.counts()[Status.FAIL] == 0
    # Finite differences at that step cannot tell (INCONCLUSIVE); the step-free Taylor test settles them.
    assert result.diagnosis is not None and result.diagnosis.settled == 3
    for block in result.blocks:
        assert (block.reference_error >= 0.5 * abs(block.autograd)).all()


def test_x_squared_at_zero_takes_the_complex_step() -> None:
    result = gradcheck_cli.check(lambda x: (x**2).sum(), torch.tensor([0.0], dtype=torch.float64))
    assert result.method == "complex-step", result.notes
    assert not any("not analytic" in note for note in result.notes)


def test_a_non_analytic_function_still_does_not_take_the_complex_step() -> None:
    result = gradcheck_cli.check(
        lambda x: (x * x.conj()).real.sum(), torch.tensor([0.5], dtype=torch.float64)
    )
    assert result.method != "complex-step" and result.passed


def test_nondeterministic_details_are_printed_once_per_entry(write_module) -> None:
    write_module("glob", 'G = {"k": 1.0}\ndef glob(x):\n    G["k"] += 1.0\n    return (x * G["k"]).sum()\n')
    result = CliRunner().invoke(cli, ["run", "glob.py:glob", "--x", "1,2,3"], catch_exceptions=False)
    details = [line for line in result.stdout.splitlines() if "NONDETERMINISTIC:" in line]
    assert len(details) == 3 and len(set(details)) == 3, result.stdout


def test_probe_rows_are_labelled_as_probes_not_output_elements() -> None:
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 6 * x**2

    result = gradcheck_cli.check(Cube.apply, torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64), mode="probe")
    labels = {entry.output_label for entry in result.entries()}
    assert "v·out (probe 0)" in labels
    assert not any(label.startswith("v·out[") for label in labels)


def test_the_option_list_is_pure() -> None:
    import subprocess

    code = "import sys, gradcheck_cli.options as c; print(c.METHODS, c.DTYPES, c.MODES); print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_ENV
    ).stdout
    assert out.splitlines()[-1] == "False"
    with pytest.raises(UsageError, match="central6"):
        gradcheck_cli.check(calc, torch.tensor([1.0], dtype=torch.float64), method="bogus")


def test_a_low_precision_function_whose_float64_backward_fails_is_still_checked() -> None:
    class HalfOnly(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**2

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            if x.dtype == torch.float64:
                raise RuntimeError("float64 backward not supported")
            return grad * 2 * x

    result = gradcheck_cli.check(HalfOnly.apply, torch.tensor([0.5, 1.5], dtype=torch.float16), forward=False)
    assert result.counts()[Status.FAIL] == 0


def test_torch_internal_deprecation_warnings_do_not_fail_a_strict_warnings_setup() -> None:
    import subprocess

    code = (
        "import torch, gradcheck_cli\n"
        "def calc(a):\n    b = a * 2 + 1\n    c = b * b\n    return (c / (c + 2)).mean()\n"
        "print(gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).passed)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        env=_ENV,
    )
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr[-2000:]
