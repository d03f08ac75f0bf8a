"""Low precision: float32, float16 and bfloat16 functions, their references and round-off."""

from __future__ import annotations

import pytest
import torch
from corpus import CORRECT, buggy
from functions import elementwise

import gradcheck_cli
from gradcheck_cli.render.notes import worded
from gradcheck_cli.result import Status
from sample_functions.tutorial import calc


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


def test_float32_calc_passes_by_default_where_torch_gradcheck_fails() -> None:
    x = torch.tensor([1.0, 2.0, 3.0])
    result = gradcheck_cli.check(calc, x)
    assert result.passed and result.dtype == "float32" and result.reference_dtype == "float64"
    assert any("float64 on an upcast copy" in note for note in worded(result))
    assert not torch.autograd.gradcheck(calc, (x.clone().requires_grad_(),), raise_exception=False)


def test_a_function_that_stays_in_float32_gets_a_float32_reference_and_passes() -> None:
    result = gradcheck_cli.check(lambda t: torch.sin(t.float()) * t.float(), torch.tensor([0.3, 1.7, -0.9]))
    assert result.passed and result.reference_dtype == "float32"
    assert any("does not run in float64" in note for note in worded(result))


def test_a_one_percent_bug_in_float32_is_caught() -> None:
    sin = elementwise(torch.sin, lambda x: torch.cos(x) * 1.01)
    result = gradcheck_cli.check(sin, torch.tensor([0.3, 1.2, -0.9]))
    assert not result.passed
    assert all(
        e.status is Status.FAIL
        for e in result.entries()
        if e.output_label == e.input_label.replace("x", "out")
    )


@pytest.mark.parametrize("inner", [torch.float32, torch.float16])
def test_a_function_less_precise_than_its_dtype_is_measured_not_failed(inner: torch.dtype) -> None:
    def squares(x: torch.Tensor) -> torch.Tensor:
        return (x.to(inner) ** 2).to(x.dtype)

    result = gradcheck_cli.check(squares, torch.tensor([1.3, 0.7], dtype=torch.float64))
    assert result.counts()[Status.FAIL] == 0
    assert any("noisier than float64" in note for note in worded(result)), worded(result)
    assert result.method == "richardson"  # not the complex step: the function does not run in complex128
    if inner == torch.float32:
        assert result.passed


def test_a_smooth_float64_function_is_not_called_noisy() -> None:
    for func, x in ((lambda t: t**3, [0.0, 2.0]), (torch.exp, [3.0, -1.0]), (calc, [1.0, 2.0, 3.0])):
        result = gradcheck_cli.check(func, torch.tensor(x, dtype=torch.float64))
        assert not any("noisier" in note for note in worded(result)), (x, worded(result))
